-- Invoiced revenue of each month by plan and currency (amounts are never converted), largest first.
select
    revenue_month as period_start,
    row_number() over (partition by revenue_month order by total_revenue desc, plan_id, currency) as row_in_period,
    plan_id,
    currency,
    invoices,
    subscription_revenue,
    overage_revenue,
    total_revenue,
    collected_revenue,
    failed_revenue
from {{ ref('fct_revenue_monthly') }}
