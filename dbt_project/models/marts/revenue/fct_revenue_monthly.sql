{{ config(materialized='table') }}
-- Invoiced revenue per UTC issue month, plan and currency: the sum of fct_revenue_daily. The
-- current month is month-to-date.

with monthly as (
select
    cast({{ dbt.date_trunc('month', 'revenue_date') }} as date) as revenue_month,
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
)

-- trends: change of total revenue against the month before and the same month a year before
select
    m.*,
    m.total_revenue - prev_month.total_revenue as total_revenue_mom_change,
    m.total_revenue - prev_year.total_revenue as total_revenue_yoy_change
from monthly as m
left join monthly as prev_month
    on prev_month.plan_id = m.plan_id and prev_month.currency = m.currency
    and prev_month.revenue_month = {{ dbt.dateadd('month', -1, 'm.revenue_month') }}
left join monthly as prev_year
    on prev_year.plan_id = m.plan_id and prev_year.currency = m.currency
    and prev_year.revenue_month = {{ dbt.dateadd('year', -1, 'm.revenue_month') }}
