-- Signups per UTC day and segment (user_type x acquisition_channel x country). Only
-- segment-days with at least one signup have a row. is_peak marks the rows of the day whose
-- total signups (all segments) is the highest of its calendar month (ties are all peaks).
with segments as (
    select
        cast(signup_at as date) as signup_date,
        user_type,
        acquisition_channel,
        country,
        count(*) as signups
    from {{ ref('stg_app__accounts') }}
    group by 1, 2, 3, 4
),

days as (
    select
        signup_date,
        sum(signups) as day_signups
    from segments
    group by signup_date
),

ranked_days as (
    select
        signup_date,
        day_signups,
        day_signups = max(day_signups) over (
            partition by {{ dbt.date_trunc('month', 'signup_date') }}
        ) as is_peak
    from days
)

select
    s.signup_date,
    cast({{ dbt.date_trunc('month', 's.signup_date') }} as date) as signup_month,
    s.user_type,
    s.acquisition_channel,
    s.country,
    cast(s.signups as bigint) as signups,
    cast(d.day_signups as bigint) as day_signups,
    d.is_peak
from segments as s
inner join ranked_days as d using (signup_date)
