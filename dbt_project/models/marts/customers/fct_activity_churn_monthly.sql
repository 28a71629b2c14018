-- Activity churn per calendar month (UTC), N = var('activity_churn_days'). The denominator is
-- the accounts active (any valid session or usage event) on at least one of the N days before
-- the month starts. Such an account churns in the month when N consecutive days without
-- activity are completed on a day of the month: its last active day d is followed by the
-- inactive days d+1 .. d+N and d+N falls in the month (and in observed data).
-- Subscription churn is a separate table (fct_subscription_churn_monthly).
-- Activity comes from int_account_activity_days (daily partitions, kept after the retention
-- purge), so a day counts once the daily layer has built it; streaks are judged up to that day.
-- depends_on: {{ ref('int_account_activity_days') }}
-- depends_on: {{ ref('fct_usage_daily') }}
{% set n = var('activity_churn_days') | int %}

with months as (
    {{ customers_month_spine() }}
),

last_observed_day as (
    select least(
        cast({{ dbt.dateadd('microsecond', -1, customers_data_horizon()) }} as date),
        {{ customers_last_built_day() }}
    ) as day
),

activity_days as (
    select account_id, activity_date from {{ customers_activity_days() }} as d
),

activity as (
    select
        account_id,
        activity_date,
        lead(activity_date) over (partition by account_id order by activity_date) as next_activity_date
    from activity_days
),

-- the day each N-day inactivity streak is completed
churn_days as (
    select account_id, activity_date + {{ n }} as churn_date
    from activity
    where (next_activity_date is null or next_activity_date > activity_date + {{ n }})
      and activity_date + {{ n }} <= (select day from last_observed_day)
),

active_before_start as (
    select distinct m.month_start, a.account_id
    from months as m
    inner join activity_days as a
        on a.activity_date >= m.month_start - {{ n }} and a.activity_date < m.month_start
),

churned as (
    select distinct b.month_start, b.account_id
    from active_before_start as b
    inner join months as m using (month_start)
    inner join churn_days as c
        on c.account_id = b.account_id
       and c.churn_date >= m.month_start and c.churn_date < m.next_month_start
),

monthly as (
    select
        m.month_start,
        m.is_complete_month,
        (select count(*) from active_before_start as b where b.month_start = m.month_start)
            as active_accounts_before_month_start,
        (select count(*) from churned as c where c.month_start = m.month_start)
            as activity_churned_accounts
    from months as m
),

rates as (
    select
        *,
        round(cast(activity_churned_accounts as numeric) / nullif(active_accounts_before_month_start, 0), 4)
            as activity_churn_rate
    from monthly
)

select
    month_start,
    is_complete_month,
    {{ n }} as activity_churn_days,
    cast(active_accounts_before_month_start as bigint) as active_accounts_before_month_start,
    cast(activity_churned_accounts as bigint) as activity_churned_accounts,
    activity_churn_rate,
    activity_churn_rate - lag(activity_churn_rate) over (order by month_start)
        as activity_churn_rate_change_mom
from rates
