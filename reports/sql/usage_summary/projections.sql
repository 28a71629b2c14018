-- Projected usage of the month that follows the report's month, when the nightly projection
-- (ml.limit_projections, latest as-of day only) is for that month; empty otherwise.
select
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
from ml.limit_projections
where usage_month = %(period_end)s
order by account_id
