{{
    config(
        materialized='incremental',
        incremental_strategy='window_replace',
        window_column='usage_month',
        tags=['monthly'],
        indexes=[{'columns': ['usage_month']}, {'columns': ['account_id', 'usage_month'], 'unique': true}],
    )
}}
-- One row per account and calendar month (UTC), from fct_usage_daily; storage is the last
-- day-end reading of the month.

with daily as (
    select
        *,
        cast({{ dbt.date_trunc('month', 'usage_date') }} as date) as usage_month,
        row_number() over (
            partition by account_id, {{ dbt.date_trunc('month', 'usage_date') }}
            order by case when storage_used_mb is null then 1 else 0 end, usage_date desc
        ) as storage_rank
    from {{ ref('fct_usage_daily') }}
    where {{ in_window('usage_date') }}
)

select
    account_id,
    usage_month,
    cast(sum(sessions_created) as bigint) as sessions_created,
    sum(audio_minutes_processed) as audio_minutes_processed,
    cast(sum(transcriptions_completed) as bigint) as transcriptions_completed,
    cast(sum(transcriptions_failed) as bigint) as transcriptions_failed,
    cast(sum(exports_generated) as bigint) as exports_generated,
    cast(sum(exports_csv) as bigint) as exports_csv,
    cast(sum(exports_pdf) as bigint) as exports_pdf,
    cast(sum(exports_xlsx) as bigint) as exports_xlsx,
    cast(sum(exports_txt) as bigint) as exports_txt,
    cast(sum(api_calls) as bigint) as api_calls,
    cast(sum(share_links_created) as bigint) as share_links_created,
    cast(sum(share_links_accessed) as bigint) as share_links_accessed,
    max(case when storage_rank = 1 then storage_used_mb end) as storage_used_mb,
    max(concurrent_sessions_peak) as concurrent_sessions_peak
from daily
group by account_id, usage_month
