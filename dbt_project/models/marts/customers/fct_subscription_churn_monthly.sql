-- Subscription churn per calendar month (UTC). An account churns when a paid subscription row
-- ends and no paid row is in force at that instant: a plan change opens the next paid row at
-- the same instant, so upgrades and downgrades between paid plans are not churn, while a
-- downgrade to the free plan is. Trials and the free plan are never paid.
-- Activity churn is a separate table (fct_activity_churn_monthly).
with months as (
    {{ customers_month_spine() }}
),

churn_events as (
    select account_id, churned_at, end_reason, is_involuntary
    from {{ ref('int_subscription_churn_events') }}
),

-- one row per account and month: the account's last churn event of the month decides the split
churned as (
    select
        m.month_start,
        e.account_id,
        e.is_involuntary,
        row_number() over (
            partition by m.month_start, e.account_id order by e.churned_at desc
        ) as event_rank
    from months as m
    inner join churn_events as e
        on e.churned_at >= m.month_start and e.churned_at < m.next_month_start
),

paying_at_start as (
    select distinct m.month_start, s.account_id
    from months as m
    inner join {{ ref('int_paid_subscriptions') }} as s
        on {{ in_force_at('cast(m.month_start as ' ~ type_timestamp_tz() ~ ')') }}
),

monthly as (
    select
        m.month_start,
        m.is_complete_month,
        (select count(*) from paying_at_start as p where p.month_start = m.month_start)
            as paying_accounts_at_month_start,
        count(c.account_id) as churned_accounts,
        sum(case when not c.is_involuntary then 1 else 0 end) as voluntary_churned_accounts,
        sum(case when c.is_involuntary then 1 else 0 end) as involuntary_churned_accounts,
        count(p.account_id) as churned_accounts_paying_at_start,
        sum(case when p.account_id is not null and not c.is_involuntary then 1 else 0 end)
            as voluntary_churned_paying_at_start,
        sum(case when p.account_id is not null and c.is_involuntary then 1 else 0 end)
            as involuntary_churned_paying_at_start
    from months as m
    left join churned as c
        on c.month_start = m.month_start and c.event_rank = 1
    left join paying_at_start as p
        on p.month_start = c.month_start and p.account_id = c.account_id
    group by m.month_start, m.is_complete_month
),

rates as (
    select
        *,
        round(cast(churned_accounts_paying_at_start as numeric)
              / nullif(paying_accounts_at_month_start, 0), 4) as subscription_churn_rate,
        round(cast(voluntary_churned_paying_at_start as numeric)
              / nullif(paying_accounts_at_month_start, 0), 4) as voluntary_churn_rate,
        round(cast(involuntary_churned_paying_at_start as numeric)
              / nullif(paying_accounts_at_month_start, 0), 4) as involuntary_churn_rate
    from monthly
)

select
    month_start,
    is_complete_month,
    cast(paying_accounts_at_month_start as bigint) as paying_accounts_at_month_start,
    cast(churned_accounts as bigint) as churned_accounts,
    cast(voluntary_churned_accounts as bigint) as voluntary_churned_accounts,
    cast(involuntary_churned_accounts as bigint) as involuntary_churned_accounts,
    cast(churned_accounts_paying_at_start as bigint) as churned_accounts_paying_at_start,
    cast(voluntary_churned_paying_at_start as bigint) as voluntary_churned_paying_at_start,
    cast(involuntary_churned_paying_at_start as bigint) as involuntary_churned_paying_at_start,
    subscription_churn_rate,
    voluntary_churn_rate,
    involuntary_churn_rate,
    subscription_churn_rate - lag(subscription_churn_rate) over (order by month_start)
        as subscription_churn_rate_change_mom
from rates
