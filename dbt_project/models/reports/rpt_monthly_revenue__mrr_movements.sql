-- Each month's MRR movements by plan: the plan in force at the month's end, or for churn the
-- plan the account churned from (fct_mrr_monthly.plan_id).
select
    mrr_month as period_start,
    row_number() over (partition by mrr_month order by movement, plan_id) as row_in_period,
    movement,
    plan_id,
    count(*) as accounts,
    sum(mrr_change) as mrr_change,
    sum(mrr) as ending_mrr
from {{ ref('fct_mrr_monthly') }}
group by mrr_month, movement, plan_id
