-- Projected usage of the month that follows the report's month, read by that report when the
-- nightly projection (ml.limit_projections holds the latest as-of day only) is for that month.
select
    cast({{ dbt.dateadd('month', -1, 'usage_month') }} as date) as period_start,
    row_number() over (
        partition by cast({{ dbt.dateadd('month', -1, 'usage_month') }} as date) order by account_id
    ) as row_in_period,
    account_id,
    as_of_date,
    usage_month,
    days_observed,  -- days of the month the projection rests on
    plan_id,  -- the plan the projection is costed on; NULL = no current plan
    projected_audio_minutes,
    limit_audio_minutes,
    projected_sessions,
    limit_sessions,
    projected_exports,
    limit_exports,
    projected_storage_mb,
    limit_storage_mb
from {{ source('ml', 'limit_projections') }}
