{{ config(materialized='table') }}
-- Invoiced revenue per UTC issue month, plan and currency: the sum of fct_revenue_daily. The
-- current month is month-to-date.

select
    cast(date_trunc('month', revenue_date) as date) as revenue_month,
    plan_id,
    currency,
    cast(sum(invoices) as bigint) as invoices,
    cast(sum(invoices_paid) as bigint) as invoices_paid,
    cast(sum(invoices_open) as bigint) as invoices_open,
    cast(sum(invoices_failed) as bigint) as invoices_failed,
    sum(subscription_revenue) as subscription_revenue,
    sum(overage_revenue) as overage_revenue,
    sum(total_revenue) as total_revenue,
    sum(collected_revenue) as collected_revenue,
    sum(open_revenue) as open_revenue,
    sum(failed_revenue) as failed_revenue
from {{ ref('fct_revenue_daily') }}
group by 1, 2, 3
