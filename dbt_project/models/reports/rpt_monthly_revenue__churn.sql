-- Subscription churn and activity churn of each month, side by side but never mixed.
select
    s.month_start as period_start,
    row_number() over (partition by s.month_start order by s.month_start) as row_in_period,
    s.month_start,
    s.paying_accounts_at_month_start,
    s.churned_accounts,
    s.voluntary_churned_accounts,
    s.involuntary_churned_accounts,
    s.subscription_churn_rate,
    a.active_accounts_before_month_start,
    a.activity_churned_accounts,
    a.activity_churn_rate
from {{ ref('fct_subscription_churn_monthly') }} as s
left join {{ ref('fct_activity_churn_monthly') }} as a on a.month_start = s.month_start
