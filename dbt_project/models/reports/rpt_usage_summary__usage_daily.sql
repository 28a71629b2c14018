-- depends_on: {{ ref('fct_usage_daily') }}
-- The daily log and chart: one row per account and day, filed under the day's month (truncated
-- as a timestamp without time zone: half the cost of the timestamptz a date converts to).
select
    cast({{ dbt.date_trunc('month', 'cast(usage_date as ' ~ dbt.type_timestamp() ~ ')') }} as date) as period_start,
    row_number() over (
        partition by cast({{ dbt.date_trunc('month', 'cast(usage_date as ' ~ dbt.type_timestamp() ~ ')') }} as date)
        order by account_id, usage_date
    ) as row_in_period,
    account_id,
    usage_date,
    sessions_created,
    audio_minutes_processed,
    transcriptions_completed,
    exports_generated,
    api_calls,
    share_links_created,
    storage_used_mb
from {{ usage_rollup('daily') }}
