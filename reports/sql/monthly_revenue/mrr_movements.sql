-- The month's MRR movements by plan at the month's end ('none' after churn).
select
    m.movement,
    coalesce(u.plan_id, 'none') as plan_id,
    count(*) as accounts,
    sum(m.mrr_change) as mrr_change,
    sum(m.mrr) as ending_mrr
from marts.fct_mrr_monthly as m
left join marts.fct_plan_utilization_monthly as u
    on u.account_id = m.account_id and u.usage_month = m.mrr_month
where m.mrr_month = %(period_start)s
group by 1, 2
order by 1, 2
