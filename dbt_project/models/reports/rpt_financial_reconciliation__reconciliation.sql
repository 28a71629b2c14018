-- Each month's invoiced revenue (fct_revenue_monthly) against modeled revenue, per plan.
-- Modeled = MRR at the month's end on the plan in force then (fct_mrr_monthly) + the overage the
-- previous month's usage implies (fct_usage_overage_monthly, the one home of the overage rule;
-- trials and the free plan owe none), since renewals bill last month's overage.
-- Annual invoices (a whole year on the issue day), proration and invoices issued on
-- anniversaries make the two differ; every plan with a difference is listed.
with invoiced as (
    select
        revenue_month as period_start,
        plan_id,
        {{ dbt.listagg('distinct currency', "','") }} as currencies,
        sum(invoices) as invoices,
        sum(subscription_revenue) as invoiced_subscription,
        sum(overage_revenue) as invoiced_overage,
        sum(total_revenue) as invoiced_total
    from {{ ref('fct_revenue_monthly') }}
    group by revenue_month, plan_id
),

modeled_mrr as (
    select
        m.mrr_month as period_start,
        coalesce(u.plan_id, 'unknown') as plan_id,
        sum(case when m.mrr > 0 then 1 else 0 end) as paying_accounts,
        sum(m.mrr) as modeled_mrr
    from {{ ref('fct_mrr_monthly') }} as m
    left join {{ ref('fct_plan_utilization_monthly') }} as u
        on u.account_id = m.account_id and u.usage_month = m.mrr_month
    group by m.mrr_month, coalesce(u.plan_id, 'unknown')
),

modeled_overage as (
    select
        cast({{ dbt.dateadd('month', 1, 'usage_month') }} as date) as period_start,
        plan_id,
        sum(overage_cost) as modeled_overage
    from {{ ref('fct_usage_overage_monthly') }}
    where is_billable
    group by usage_month, plan_id
),

plans as (
    select period_start, plan_id from invoiced
    union
    select period_start, plan_id from modeled_mrr
    union
    select period_start, plan_id from modeled_overage
)

select
    pl.period_start,
    row_number() over (partition by pl.period_start order by pl.plan_id) as row_in_period,
    pl.plan_id,
    i.currencies,
    coalesce(i.invoices, 0) as invoices,
    coalesce(i.invoiced_subscription, 0) as invoiced_subscription,
    coalesce(i.invoiced_overage, 0) as invoiced_overage,
    coalesce(i.invoiced_total, 0) as invoiced_total,
    coalesce(m.paying_accounts, 0) as paying_accounts,
    coalesce(m.modeled_mrr, 0) as modeled_mrr,
    coalesce(o.modeled_overage, 0) as modeled_overage,
    coalesce(m.modeled_mrr, 0) + coalesce(o.modeled_overage, 0) as modeled_total,
    coalesce(i.invoiced_total, 0) - coalesce(m.modeled_mrr, 0) - coalesce(o.modeled_overage, 0)
        as difference
from plans as pl
left join invoiced as i on i.period_start = pl.period_start and i.plan_id = pl.plan_id
left join modeled_mrr as m on m.period_start = pl.period_start and m.plan_id = pl.plan_id
left join modeled_overage as o on o.period_start = pl.period_start and o.plan_id = pl.plan_id
where coalesce(i.invoices, 0) > 0 or coalesce(m.modeled_mrr, 0) <> 0 or coalesce(o.modeled_overage, 0) <> 0
