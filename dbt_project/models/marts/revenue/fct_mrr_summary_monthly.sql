{{ config(materialized='table') }}
-- The monthly MRR bridge: starting MRR + new + expansion + contraction + churn + reactivation
-- = ending MRR (contraction and churn are negative), with the usual SaaS ratios. Every ratio
-- is NULL when its denominator is 0.

with accounts as (
    select * from {{ ref('fct_mrr_monthly') }}
),

bridge as (
    select
        mrr_month,
        sum(previous_mrr) as starting_mrr,
        sum(case when movement = 'new' then mrr_change else 0 end) as new_mrr,
        sum(case when movement = 'expansion' then mrr_change else 0 end) as expansion_mrr,
        sum(case when movement = 'contraction' then mrr_change else 0 end) as contraction_mrr,
        sum(case when movement = 'churn' then mrr_change else 0 end) as churned_mrr,
        sum(case when movement = 'reactivation' then mrr_change else 0 end) as reactivation_mrr,
        sum(mrr) as ending_mrr,
        count(case when previous_mrr > 0 then 1 end) as starting_customers,
        count(case when movement = 'new' then 1 end) as new_customers,
        count(case when movement = 'reactivation' then 1 end) as reactivated_customers,
        count(case when movement = 'churn' then 1 end) as churned_customers,
        count(case when mrr > 0 then 1 end) as paying_customers
    from accounts
    group by mrr_month
)

select
    mrr_month,
    cast(starting_mrr as numeric(14, 2)) as starting_mrr,
    cast(new_mrr as numeric(14, 2)) as new_mrr,
    cast(expansion_mrr as numeric(14, 2)) as expansion_mrr,
    cast(contraction_mrr as numeric(14, 2)) as contraction_mrr,
    cast(churned_mrr as numeric(14, 2)) as churned_mrr,
    cast(reactivation_mrr as numeric(14, 2)) as reactivation_mrr,
    cast(ending_mrr as numeric(14, 2)) as ending_mrr,
    cast(ending_mrr * 12 as numeric(16, 2)) as arr,
    starting_customers,
    new_customers,
    reactivated_customers,
    churned_customers,
    paying_customers,
    round(ending_mrr / nullif(paying_customers, 0), 2) as arpa,
    round(cast(churned_customers as numeric) / nullif(starting_customers, 0), 4) as logo_churn_rate,
    round(-(churned_mrr + contraction_mrr) / nullif(starting_mrr, 0), 4) as gross_mrr_churn_rate,
    round(-(churned_mrr + contraction_mrr + expansion_mrr) / nullif(starting_mrr, 0), 4) as net_mrr_churn_rate,
    round((starting_mrr + expansion_mrr + contraction_mrr + churned_mrr) / nullif(starting_mrr, 0), 4) as nrr,
    round((starting_mrr + contraction_mrr + churned_mrr) / nullif(starting_mrr, 0), 4) as grr,
    round(
        (new_mrr + expansion_mrr + reactivation_mrr) / nullif(-(churned_mrr + contraction_mrr), 0), 4
    ) as quick_ratio,
    -- trends: change of ending MRR against the month before and the same month a year before
    cast(ending_mrr - (
        select p.ending_mrr from bridge as p where p.mrr_month = {{ dbt.dateadd('month', -1, 'b.mrr_month') }}
    ) as numeric(14, 2)) as ending_mrr_mom_change,
    cast(ending_mrr - (
        select p.ending_mrr from bridge as p where p.mrr_month = {{ dbt.dateadd('year', -1, 'b.mrr_month') }}
    ) as numeric(14, 2)) as ending_mrr_yoy_change
from bridge as b
