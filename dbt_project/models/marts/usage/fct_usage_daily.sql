{{
    config(
        materialized='incremental',
        incremental_strategy='window_replace',
        window_column='usage_date',
        tags=['daily'],
        indexes=[{'columns': ['usage_date']}, {'columns': ['account_id', 'usage_date'], 'unique': true}],
    )
}}
-- One row per account and UTC day, for every account signed up by the day's end (zero days
-- included, so averages and "days active" need no gap filling). Built from fct_usage_hourly:
-- sums of the hours, the peak of the hourly peaks (each hourly peak already counts sessions
-- carried over from earlier hours), and the storage meter at the day's last reading.

with days as (
    {{ period_spine('day', "select min(signup_at) from " ~ ref('stg_app__accounts')) }}
),

account_days as (
    select a.account_id, cast(d.period_start as date) as usage_date
    from days as d
    inner join {{ ref('stg_app__accounts') }} as a
        on a.signup_at < {{ dbt.dateadd('day', 1, 'd.period_start') }}
),

hourly as (
    select
        account_id,
        cast({{ dbt.date_trunc('day', 'hour_start') }} as date) as usage_date,
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
        max(concurrent_sessions_peak) as concurrent_sessions_peak
    from {{ ref('fct_usage_hourly') }}
    where {{ in_window('hour_start') }}
    group by 1, 2
),

storage_at_day_end as (
    select account_id, usage_date, storage_used_mb
    from (
        select
            account_id,
            cast({{ dbt.date_trunc('day', 'hour_start') }} as date) as usage_date,
            storage_used_mb,
            row_number() over (
                partition by account_id, {{ dbt.date_trunc('day', 'hour_start') }} order by hour_start desc
            ) as reading_rank
        from {{ ref('stg_app__account_state_hourly') }}
        where {{ in_window('hour_start') }}
    ) as readings
    where reading_rank = 1
)

select
    ad.account_id,
    ad.usage_date,
    coalesce(h.sessions_created, 0) as sessions_created,
    coalesce(h.audio_minutes_processed, 0) as audio_minutes_processed,
    coalesce(h.transcriptions_completed, 0) as transcriptions_completed,
    coalesce(h.transcriptions_failed, 0) as transcriptions_failed,
    coalesce(h.exports_generated, 0) as exports_generated,
    coalesce(h.exports_csv, 0) as exports_csv,
    coalesce(h.exports_pdf, 0) as exports_pdf,
    coalesce(h.exports_xlsx, 0) as exports_xlsx,
    coalesce(h.exports_txt, 0) as exports_txt,
    coalesce(h.api_calls, 0) as api_calls,
    coalesce(h.share_links_created, 0) as share_links_created,
    coalesce(h.share_links_accessed, 0) as share_links_accessed,
    s.storage_used_mb,
    coalesce(h.concurrent_sessions_peak, 0) as concurrent_sessions_peak
from account_days as ad
left join hourly as h using (account_id, usage_date)
left join storage_at_day_end as s using (account_id, usage_date)
