{{ config(materialized='table') }}
-- What a month on a plan costs before usage, per billing period: the one home of the plan price
-- rule. Monthly billing pays monthly_price; annual billing pays annual_price / 12 rounded to
-- cents per month (the MRR of an annual row, and what the limit projections cost an annual
-- account at). Read by the MRR and churn intermediates and by the ML plan advice
-- (orchestration/ml/limits.py), which is why it is a table and not inlined.
with plans as (
    select * from {{ ref('stg_app__plans') }}
),

billing_periods as (
    select 'monthly' as billing_period
    union all
    select 'annual' as billing_period
)

select
    p.plan_id,
    b.billing_period,
    p.is_free,
    case
        when b.billing_period = 'annual' then round(p.annual_price / 12, 2)
        else p.monthly_price
    end as price_per_month
from plans as p
cross join billing_periods as b
