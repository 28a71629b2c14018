-- annual_price_per_month comes from int_plan_prices, the one home of the plan price rule.
select
    p.plan_id,
    p.plan_name,
    p.tier,
    p.is_free,
    p.monthly_price,
    p.annual_price,
    annual.price_per_month as annual_price_per_month,
    p.limit_audio_minutes,
    p.limit_sessions,
    p.limit_storage_mb,
    p.limit_exports,
    p.overage_audio_minute_price,
    p.overage_session_price,
    p.overage_storage_mb_price,
    p.overage_export_price,
    p.trial_days
from {{ ref('stg_app__plans') }} as p
inner join {{ ref('int_plan_prices') }} as annual
    on annual.plan_id = p.plan_id and annual.billing_period = 'annual'
