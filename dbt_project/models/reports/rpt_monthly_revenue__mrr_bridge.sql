-- The MRR bridge of the report's month and the eleven months before it (the trend chart): each
-- month's row is read by its own month's report and by the eleven reports after it.
with months_later as (
    select 0 as months_later
    {%- for months in range(1, 12) %}
    union all
    select {{ months }}
    {%- endfor %}
),

bridge as (
    select
        cast({{ dbt.dateadd('month', 'l.months_later', 's.mrr_month') }} as date) as period_start,
        s.*
    from {{ ref('fct_mrr_summary_monthly') }} as s
    cross join months_later as l
)

select
    period_start,
    row_number() over (partition by period_start order by mrr_month) as row_in_period,
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
from bridge
