-- The funnel of each day's signups (as of the build: recent days are still maturing).
select
    signup_date as period_start,
    row_number() over (partition by signup_date order by user_type) as row_in_period,
    signup_date,
    user_type,
    signups,
    activated_accounts,
    trial_accounts,
    paid_accounts
from {{ ref('fct_funnel_daily') }}
