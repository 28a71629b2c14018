-- Usage by metric for the month and the month before (trend vs last month).
select
    account_id,
    usage_month,
    sessions_created,
    audio_minutes_processed,
    transcriptions_completed,
    transcriptions_failed,
    exports_generated,
    api_calls,
    share_links_created,
    share_links_accessed,
    storage_used_mb,
    concurrent_sessions_peak
from marts.fct_usage_monthly
where usage_month >= cast(%(period_start)s as date) - interval '1 month'
  and usage_month < %(period_end)s
order by account_id, usage_month
