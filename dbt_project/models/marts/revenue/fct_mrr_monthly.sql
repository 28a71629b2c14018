{{
    config(
        materialized='table',
        indexes=[{'columns': ['account_id', 'mrr_month'], 'unique': true}, {'columns': ['mrr_month']}],
    )
}}
-- MRR per account and calendar month (UTC), measured at the month's end instant, i.e. the
-- first instant of the next month (the instant the customer marts use too): the sum of
-- monthly_mrr over the account's periods whose paying interval [started_at, paying_until)
-- contains that instant. A period that ends mid-month counts 0 at the month's end; one that
-- starts at 00:00 on the 1st already counts for the month before.
-- Rows run from the account's first month with MRR > 0 through the month after its last
-- paying month (a zero row, movement 'churn'); months at zero after that have no row until the
-- account pays again. Only complete months are built: those ending by the data horizon shared
-- with the customer marts (end of the newest hour holding extracted rows).
-- plan_id is the paid plan in force at the month's end; a churn row keeps the plan the account
-- churned from (its previous month's plan), so churn is always reported under a real plan.

with periods as (
    select account_id, plan_id, started_at, paying_until, monthly_mrr
    from {{ ref('int_subscription_mrr_periods') }}
    where monthly_mrr > 0
        and (paying_until is null or paying_until > started_at)
),

horizon as (
    select {{ customers_data_horizon() }} as data_until
),

months as (
    select
        cast(spine.month_start as date) as mrr_month,
        {{ dbt.dateadd('month', 1, 'spine.month_start') }} as month_end
    from {{ time_series(
        '(select ' ~ dbt.date_trunc('month', 'min(started_at)') ~ ' from periods)',
        '(select ' ~ dbt.dateadd('month', -1, dbt.date_trunc('month', 'data_until')) ~ ' from horizon)',
        'month', 'spine', 'month_start'
    ) }}
),

in_force as (
    select
        p.account_id,
        m.mrr_month,
        p.plan_id,
        p.monthly_mrr,
        -- one paid row is in force at an instant; should two overlap, the dearer one names it
        row_number() over (
            partition by p.account_id, m.mrr_month
            order by p.monthly_mrr desc, p.started_at desc
        ) as plan_rank
    from periods as p
    inner join months as m
        on p.started_at <= m.month_end
        and (p.paying_until is null or p.paying_until > m.month_end)
),

paying as (
    select
        account_id,
        mrr_month,
        sum(monthly_mrr) as mrr,
        max(case when plan_rank = 1 then plan_id end) as plan_id
    from in_force
    group by account_id, mrr_month
),

first_paying as (
    select account_id, min(mrr_month) as first_month
    from paying
    group by account_id
),

-- every month from the account's first paying month on, zero months included
dense as (
    select f.account_id, m.mrr_month, coalesce(p.mrr, 0) as mrr, p.plan_id
    from first_paying as f
    inner join months as m on m.mrr_month >= f.first_month
    left join paying as p on p.account_id = f.account_id and p.mrr_month = m.mrr_month
),

with_history as (
    select
        account_id,
        mrr_month,
        mrr,
        coalesce(lag(mrr) over (partition by account_id order by mrr_month), 0) as previous_mrr,
        coalesce(plan_id, lag(plan_id) over (partition by account_id order by mrr_month)) as plan_id,
        max(case when mrr > 0 then mrr_month end) over (
            partition by account_id order by mrr_month
            rows between unbounded preceding and 1 preceding
        ) as last_paying_month
    from dense
)

select
    account_id,
    mrr_month,
    cast(mrr as numeric(14, 2)) as mrr,
    cast(previous_mrr as numeric(14, 2)) as previous_mrr,
    cast(mrr - previous_mrr as numeric(14, 2)) as mrr_change,
    case
        when previous_mrr = 0 and mrr > 0 then
            case
                when last_paying_month is null then 'new'
                {% if var('mrr_reactivation_window_months') is not none -%}
                when last_paying_month < {{ dbt.dateadd('month', -(var('mrr_reactivation_window_months') | int + 1), 'mrr_month') }} then 'new'
                {% endif -%}
                else 'reactivation'
            end
        when previous_mrr > 0 and mrr = 0 then 'churn'
        when mrr > previous_mrr then 'expansion'
        when mrr < previous_mrr then 'contraction'
        else 'unchanged'
    end as movement,
    plan_id,
    last_paying_month
from with_history
where mrr > 0 or previous_mrr > 0
