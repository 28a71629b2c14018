-- Each month's invoices by plan, currency and payment status.
select
    revenue_month as period_start,
    row_number() over (partition by revenue_month order by plan_id, currency) as row_in_period,
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
from {{ ref('fct_revenue_monthly') }}
