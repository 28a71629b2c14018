-- The month's invoices by plan, currency and payment status.
select
    plan_id,
    currency,
    invoices,
    invoices_paid,
    invoices_open,
    invoices_failed,
    total_revenue,
    collected_revenue,
    open_revenue,
    failed_revenue
from marts.fct_revenue_monthly
where revenue_month = %(period_start)s
order by plan_id, currency
