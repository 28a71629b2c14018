-- Paid subscription rows: not a trial and not on the free plan. past_due rows stay open until
-- they are canceled (end_reason non_payment), so a past-due account still counts as paying.
-- normalised_monthly_price is the MRR price of the row's plan and billing period (int_plan_prices:
-- monthly_price, or annual_price / 12 rounded to cents).
select
    s.subscription_id,
    s.account_id,
    s.plan_id,
    s.billing_period,
    s.started_at,
    s.ended_at,
    s.end_reason,
    p.price_per_month as normalised_monthly_price
from {{ ref('stg_app__subscriptions') }} as s
inner join {{ ref('int_plan_prices') }} as p
    on p.plan_id = s.plan_id and p.billing_period = s.billing_period
where not s.is_trial and not p.is_free
