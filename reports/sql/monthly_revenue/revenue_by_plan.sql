-- Invoiced revenue of the month by plan and currency (amounts are never converted).
select
    plan_id,
    currency,
    invoices,
    subscription_revenue,
    overage_revenue,
    total_revenue,
    collected_revenue,
    failed_revenue
from marts.fct_revenue_monthly
where revenue_month = %(period_start)s
order by total_revenue desc, plan_id, currency
