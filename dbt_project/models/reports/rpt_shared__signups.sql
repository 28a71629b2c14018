-- Signups by day, user type, acquisition channel and country (platform statistics, user acquisition).
select
    signup_date as period_start,
    row_number() over (
        partition by signup_date order by user_type, acquisition_channel, country
    ) as row_in_period,
    signup_date,
    user_type,
    acquisition_channel,
    country,
    signups
from {{ ref('fct_signups_daily') }}
