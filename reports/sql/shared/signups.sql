-- Signups of the period by day, user type, acquisition channel and country.
select
    signup_date,
    user_type,
    acquisition_channel,
    country,
    signups
from marts.fct_signups_daily
where signup_date >= %(period_start)s
  and signup_date < %(period_end)s
order by signup_date, user_type, acquisition_channel, country
