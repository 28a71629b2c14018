-- The audience of each month: accounts on a plan (trials included) at the month's end, with their
-- plan. The report restricts every other input to these accounts. The account's name greets its
-- own owner; it is personal data, so it comes from the private int_account_names (no mart carries
-- it, docs/bi.md), and this schema is not granted to the BI role.
select
    u.usage_month as period_start,
    row_number() over (partition by u.usage_month order by u.account_id) as row_in_period,
    u.account_id,
    n.account_name,
    u.plan_id,
    p.plan_name,
    u.is_trial
from {{ ref('fct_plan_utilization_monthly') }} as u
inner join {{ ref('int_account_names') }} as n on n.account_id = u.account_id
left join {{ ref('dim_plans') }} as p on p.plan_id = u.plan_id
where u.plan_id is not null
