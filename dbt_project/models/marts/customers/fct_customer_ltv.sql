-- Lifetime value by plan and signup-month cohort, from account-months: an account-month is an
-- account paying at the start of a complete calendar month, on the plan of the paid row in
-- force at that instant. It churns when the account has a subscription-churn event in that
-- month (same definition as fct_subscription_churn_monthly).
--   arpa: average normalised monthly price over the account-months
--   monthly_logo_churn_rate: churned account-months / account-months
--   ltv: arpa / monthly_logo_churn_rate (expected lifetime of 1 / churn months); NULL when no
--        account-month churned (the lifetime is unbounded on the data seen)
with months as (
    {{ customers_month_spine() }}
),

churn_events as (
    select account_id, churned_at from {{ ref('int_subscription_churn_events') }}
),

account_months as (
    select
        m.month_start,
        m.next_month_start,
        s.account_id,
        s.plan_id,
        s.normalised_monthly_price
    from months as m
    inner join {{ ref('int_paid_subscriptions') }} as s
        on {{ in_force_at('cast(m.month_start as ' ~ type_timestamp_tz() ~ ')') }}
    where m.is_complete_month
),

observations as (
    select
        am.plan_id,
        cast({{ dbt.date_trunc('month', 'a.signup_at') }} as date) as cohort_month,
        am.account_id,
        am.normalised_monthly_price,
        exists (
            select 1 from churn_events as e
            where e.account_id = am.account_id
              and e.churned_at >= am.month_start and e.churned_at < am.next_month_start
        ) as churned
    from account_months as am
    inner join {{ ref('stg_app__accounts') }} as a using (account_id)
),

grouped as (
    select
        plan_id,
        cohort_month,
        count(distinct account_id) as paying_accounts,
        count(*) as paying_account_months,
        sum(case when churned then 1 else 0 end) as churned_account_months,
        avg(normalised_monthly_price) as arpa
    from observations
    group by plan_id, cohort_month
)

select
    plan_id,
    cohort_month,
    cast(paying_accounts as bigint) as paying_accounts,
    cast(paying_account_months as bigint) as paying_account_months,
    cast(churned_account_months as bigint) as churned_account_months,
    round(arpa, 2) as arpa,
    round(cast(churned_account_months as numeric) / paying_account_months, 4) as monthly_logo_churn_rate,
    round(arpa * paying_account_months / nullif(churned_account_months, 0), 2) as ltv
from grouped
