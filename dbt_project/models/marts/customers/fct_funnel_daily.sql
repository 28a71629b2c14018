-- Signup funnel per UTC signup day and user_type. Each step counts accounts of the signup day:
--   activated: first valid session started within var('activation_window_days') days of signup
--   started_trial: ever started a trial subscription row (as of the build)
--   converted_to_paid: ever had a paid row (not a trial, not the free plan; as of the build)
-- Trial and paid steps have no window: recent signup days are still maturing.
-- First sessions come from int_account_activity_days (each day's first valid session start,
-- daily partitions kept after the retention purge), not from raw sessions.
-- depends_on: {{ ref('int_account_activity_days') }}
{% set window_days = var('activation_window_days') | int %}

with accounts as (
    select account_id, user_type, signup_at, cast(signup_at as date) as signup_date
    from {{ ref('stg_app__accounts') }}
),

first_session as (
    select account_id, min(first_session_at) as first_session_at
    from {{ customers_activity_days() }} as d
    where first_session_at is not null
    group by account_id
),

trials as (
    select distinct account_id
    from {{ ref('stg_app__subscriptions') }}
    where is_trial
),

paid as (
    select distinct account_id
    from {{ ref('int_paid_subscriptions') }}
),

steps as (
    select
        a.signup_date,
        a.user_type,
        count(*) as signups,
        sum(case when f.first_session_at < {{ dbt.dateadd('day', window_days, 'a.signup_at') }} then 1 else 0 end)
            as activated_accounts,
        count(t.account_id) as trial_accounts,
        count(p.account_id) as paid_accounts,
        sum(case when p.account_id is not null and t.account_id is not null then 1 else 0 end)
            as trial_and_paid_accounts
    from accounts as a
    left join first_session as f using (account_id)
    left join trials as t using (account_id)
    left join paid as p using (account_id)
    group by a.signup_date, a.user_type
)

select
    signup_date,
    user_type,
    cast(signups as bigint) as signups,
    cast(activated_accounts as bigint) as activated_accounts,
    cast(trial_accounts as bigint) as trial_accounts,
    cast(paid_accounts as bigint) as paid_accounts,
    round(cast(activated_accounts as numeric) / signups, 4) as activation_rate,
    round(cast(trial_accounts as numeric) / signups, 4) as trial_start_rate,
    round(cast(paid_accounts as numeric) / signups, 4) as paid_conversion_rate,
    cast(trial_and_paid_accounts as bigint) as trial_and_paid_accounts,
    round(cast(trial_and_paid_accounts as numeric) / nullif(trial_accounts, 0), 4) as trial_to_paid_rate
from steps
