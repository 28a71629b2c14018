{{
    config(
        materialized='incremental',
        incremental_strategy='window_replace',
        window_column='hour_start',
        tags=['hourly'],
        indexes=[{'columns': ['hour_start']}, {'columns': ['account_id', 'hour_start'], 'unique': true}],
    )
}}
-- One row per account and hour in which the account did anything (a session started or was
-- running, or a usage event occurred). Session metrics count in the hour the session started.

with sessions_started as (
    select
        account_id,
        {{ dbt.date_trunc('hour', 'started_at') }} as hour_start,
        cast(count(*) as bigint) as sessions_created,
        sum(audio_minutes) as audio_minutes_processed,
        cast(sum(case when transcription_status = 'completed' then 1 else 0 end) as bigint) as transcriptions_completed,
        cast(sum(case when transcription_status = 'failed' then 1 else 0 end) as bigint) as transcriptions_failed
    from {{ ref('stg_app__sessions') }}
    where {{ in_window('started_at') }}
    group by 1, 2
),

events as (
    select
        account_id,
        {{ dbt.date_trunc('hour', 'occurred_at') }} as hour_start,
        cast(sum(case when event_type = 'export' then quantity else 0 end) as bigint) as exports_generated,
        cast(sum(case when event_type = 'export' and export_format = 'csv' then quantity else 0 end) as bigint) as exports_csv,
        cast(sum(case when event_type = 'export' and export_format = 'pdf' then quantity else 0 end) as bigint) as exports_pdf,
        cast(sum(case when event_type = 'export' and export_format = 'xlsx' then quantity else 0 end) as bigint) as exports_xlsx,
        cast(sum(case when event_type = 'export' and export_format = 'txt' then quantity else 0 end) as bigint) as exports_txt,
        cast(sum(case when event_type = 'api_call' then quantity else 0 end) as bigint) as api_calls,
        cast(sum(case when event_type = 'share_link_created' then quantity else 0 end) as bigint) as share_links_created,
        cast(sum(case when event_type = 'share_link_accessed' then quantity else 0 end) as bigint) as share_links_accessed
    from {{ ref('stg_app__usage_events') }}
    where {{ in_window('occurred_at') }}
    group by 1, 2
),

concurrency as (
    select * from {{ ref('int_concurrent_sessions_hourly') }}
),

active_hours as (
    select account_id, hour_start from sessions_started
    union
    select account_id, hour_start from events
    union
    select account_id, hour_start from concurrency
),

state as (
    select account_id, hour_start, storage_used_mb
    from {{ ref('stg_app__account_state_hourly') }}
    where {{ in_window('hour_start') }}
)

select
    a.account_id,
    a.hour_start,
    coalesce(s.sessions_created, 0) as sessions_created,
    coalesce(s.audio_minutes_processed, 0) as audio_minutes_processed,
    coalesce(s.transcriptions_completed, 0) as transcriptions_completed,
    coalesce(s.transcriptions_failed, 0) as transcriptions_failed,
    coalesce(e.exports_generated, 0) as exports_generated,
    coalesce(e.exports_csv, 0) as exports_csv,
    coalesce(e.exports_pdf, 0) as exports_pdf,
    coalesce(e.exports_xlsx, 0) as exports_xlsx,
    coalesce(e.exports_txt, 0) as exports_txt,
    coalesce(e.api_calls, 0) as api_calls,
    coalesce(e.share_links_created, 0) as share_links_created,
    coalesce(e.share_links_accessed, 0) as share_links_accessed,
    st.storage_used_mb,
    coalesce(c.concurrent_sessions_peak, 0) as concurrent_sessions_peak
from active_hours as a
left join sessions_started as s using (account_id, hour_start)
left join events as e using (account_id, hour_start)
left join concurrency as c using (account_id, hour_start)
left join state as st using (account_id, hour_start)
