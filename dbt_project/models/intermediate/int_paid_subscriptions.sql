-- Paid subscription rows: not a trial and not on the free plan. past_due rows stay open until
-- they are canceled (end_reason non_payment), so a past-due account still counts as paying.
-- normalised_monthly_price is the MRR price: monthly_price, or annual_price / 12 rounded to cents
-- (dim_plans.annual_price_per_month, the revenue marts' rounding).
select
    s.subscription_id,
    s.account_id,
    s.plan_id,
    s.billing_period,
    s.started_at,
    s.ended_at,
    s.end_reason,
    case
        when s.billing_period = 'annual' then round(p.annual_price / 12, 2)
        else p.monthly_price
    end as normalised_monthly_price
from {{ ref('stg_app__subscriptions') }} as s
inner join {{ ref('stg_app__plans') }} as p using (plan_id)
where not s.is_trial and not p.is_free
