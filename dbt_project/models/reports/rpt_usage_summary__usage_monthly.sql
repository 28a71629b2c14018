-- depends_on: {{ ref('fct_usage_monthly') }}
-- Usage by metric for the report's month and the month before it (the trend vs last month): each
-- month's row is read by its own month's report and by the next month's.
with report_months as (
    select 0 as months_later
    union all
    select 1 as months_later
)

select
    cast({{ dbt.dateadd('month', 'r.months_later', 'm.usage_month') }} as date) as period_start,
    row_number() over (
        partition by cast({{ dbt.dateadd('month', 'r.months_later', 'm.usage_month') }} as date)
        order by m.account_id, m.usage_month
    ) as row_in_period,
    m.account_id,
    m.usage_month,
    m.sessions_created,
    m.audio_minutes_processed,
    m.transcriptions_completed,
    m.transcriptions_failed,
    m.exports_generated,
    m.api_calls,
    m.share_links_created,
    m.share_links_accessed,
    m.storage_used_mb,
    m.concurrent_sessions_peak
from {{ usage_rollup('monthly') }} as m
cross join report_months as r
