-- The MRR bridge must close every month: starting + new + expansion + contraction + churn +
-- reactivation = ending, and each month starts where the previous one ended. Returns the
-- months that break either rule.
with bridge as (
    select
        *,
        lag(ending_mrr) over (order by mrr_month) as previous_ending_mrr,
        lag(mrr_month) over (order by mrr_month) as previous_month
    from {{ ref('fct_mrr_summary_monthly') }}
)

select *
from bridge
where starting_mrr + new_mrr + expansion_mrr + contraction_mrr + churned_mrr + reactivation_mrr
        <> ending_mrr
    or (previous_month is not null and previous_ending_mrr <> starting_mrr)
