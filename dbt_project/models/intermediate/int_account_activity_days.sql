{{
    config(
        materialized='incremental',
        incremental_strategy='window_replace',
        window_column='activity_date',
        tags=['daily'],
        indexes=[{'columns': ['activity_date']}, {'columns': ['account_id', 'activity_date'], 'unique': true}],
    )
}}
-- One row per account and UTC day on which the account had any activity: a valid session
-- started or a valid usage event occurred (quarantined rows never reach staging, so they do not
-- count). first_session_at is the day's first valid session start (NULL when the day had only
-- usage events). Persisted per daily partition, so the customer marts rebuilt from it keep their
-- history after the retention purge has removed the raw rows (docs/operations.md, "Retention").

with sessions as (
    select account_id, cast(started_at as date) as activity_date, min(started_at) as first_session_at
    from {{ ref('stg_app__sessions') }}
    where {{ in_window('started_at') }}
    group by 1, 2
),

events as (
    select distinct account_id, cast(occurred_at as date) as activity_date
    from {{ ref('stg_app__usage_events') }}
    where {{ in_window('occurred_at') }}
)

select account_id, activity_date, s.first_session_at
from sessions as s
full join events as e using (account_id, activity_date)
