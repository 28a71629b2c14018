-- The MRR bridge of the report's month and the eleven months before it (for the trend chart).
select
    mrr_month,
    starting_mrr,
    new_mrr,
    expansion_mrr,
    contraction_mrr,
    churned_mrr,
    reactivation_mrr,
    ending_mrr,
    arr,
    starting_customers,
    new_customers,
    reactivated_customers,
    churned_customers,
    paying_customers,
    arpa,
    logo_churn_rate,
    nrr,
    grr,
    quick_ratio
from marts.fct_mrr_summary_monthly
where mrr_month >= cast(%(period_start)s as date) - interval '11 months'
  and mrr_month < %(period_end)s
order by mrr_month
