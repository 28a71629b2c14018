-- The audience: accounts on a plan (trials included) at the month's end, with their plan.
-- Every other table of this report is restricted to these accounts. The account's name greets its
-- own owner; it is personal data, so it comes from the private intermediate.int_account_names
-- (no mart carries it, docs/bi.md).
select
    u.account_id,
    n.account_name,
    u.plan_id,
    p.plan_name,
    u.is_trial
from marts.fct_plan_utilization_monthly as u
inner join intermediate.int_account_names as n on n.account_id = u.account_id
left join marts.dim_plans as p on p.plan_id = u.plan_id
where u.usage_month = %(period_start)s
  and u.plan_id is not null
order by u.account_id
