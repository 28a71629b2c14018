-- The daily log and chart: one row per account and day of the month.
select
    account_id,
    usage_date,
    sessions_created,
    audio_minutes_processed,
    transcriptions_completed,
    exports_generated,
    api_calls,
    share_links_created,
    storage_used_mb
from marts.fct_usage_daily
where usage_date >= %(period_start)s
  and usage_date < %(period_end)s
order by account_id, usage_date
