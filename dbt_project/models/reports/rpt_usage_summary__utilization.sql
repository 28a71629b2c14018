-- Each month's usage against the limits of the plan in force at its end (NULL limit = unlimited).
select
    usage_month as period_start,
    row_number() over (partition by usage_month order by account_id) as row_in_period,
    account_id,
    limit_audio_minutes,
    limit_sessions,
    limit_exports,
    limit_storage_mb,
    audio_minutes_utilization_pct,
    sessions_utilization_pct,
    exports_utilization_pct,
    storage_utilization_pct,
    max_utilization_pct,
    is_near_limit
from {{ ref('fct_plan_utilization_monthly') }}
