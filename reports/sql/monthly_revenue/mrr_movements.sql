-- The month's MRR movements by plan: the plan in force at the month's end, or for churn the
-- plan the account churned from (fct_mrr_monthly.plan_id).
select
    movement,
    plan_id,
    count(*) as accounts,
    sum(mrr_change) as mrr_change,
    sum(mrr) as ending_mrr
from marts.fct_mrr_monthly
where mrr_month = %(period_start)s
group by 1, 2
order by 1, 2
