-- The funnel of the period's signups (as of the build: recent days are still maturing).
select
    signup_date,
    user_type,
    signups,
    activated_accounts,
    trial_accounts,
    paid_accounts
from marts.fct_funnel_daily
where signup_date >= %(period_start)s
  and signup_date < %(period_end)s
order by signup_date, user_type
