-- Retention by signup-month cohort and months since signup (0 = the signup month), for every
-- complete calendar month from the cohort's month on. Measured at each month's end instant:
--   paying_accounts: cohort accounts with a paid row in force (logo retention on paying)
--   mrr: sum of their paid rows' normalised monthly price (monthly_price, or annual_price / 12;
--        trials and the free plan count 0)
--   active_accounts: cohort accounts with any activity during the month (activity retention)
-- Retention is net and relative to month 0: paying_accounts / paying_accounts of month 0 and
-- mrr / mrr of month 0 (NULL when month 0 is 0). Accounts that start paying later raise it,
-- so it can exceed 1. paying_share_of_cohort divides by the cohort size instead.
-- cohort_mrr_retention_rate is not NRR: NRR (fct_mrr_summary_monthly.nrr) keeps only what the
-- accounts paying at a month's start still pay; this one counts every cohort account paying
-- at the month's end, converts after month 0 included (docs/metrics.md, "Two retention figures").
-- Activity comes from int_account_activity_days (daily partitions, kept after the retention purge).
-- depends_on: {{ ref('int_account_activity_days') }}
with months as (
    {{ customers_month_spine() }}
),

accounts as (
    select account_id, cast({{ dbt.date_trunc('month', 'signup_at') }} as date) as cohort_month
    from {{ ref('stg_app__accounts') }}
),

grid as (
    select
        a.cohort_month,
        m.month_start as period_month,
        m.next_month_start,
        a.account_id
    from accounts as a
    inner join months as m
        on m.month_start >= a.cohort_month and m.is_complete_month
),

paying_at_end as (
    select
        g.cohort_month,
        g.period_month,
        g.account_id,
        sum(s.normalised_monthly_price) as mrr
    from grid as g
    inner join {{ ref('int_paid_subscriptions') }} as s
        on s.account_id = g.account_id
       and {{ in_force_at('cast(g.next_month_start as ' ~ type_timestamp_tz() ~ ')') }}
    group by 1, 2, 3
),

active as (
    select distinct g.cohort_month, g.period_month, g.account_id
    from grid as g
    inner join {{ customers_activity_days() }} as d
        on d.account_id = g.account_id
       and d.activity_date >= g.period_month and d.activity_date < g.next_month_start
),

cohort_months as (
    select
        g.cohort_month,
        g.period_month,
        cast({{ dbt.datediff('g.cohort_month', 'g.period_month', 'month') }} as integer) as months_since_signup,
        count(*) as cohort_accounts,
        count(p.account_id) as paying_accounts,
        coalesce(sum(p.mrr), 0) as mrr,
        count(ac.account_id) as active_accounts
    from grid as g
    left join paying_at_end as p using (cohort_month, period_month, account_id)
    left join active as ac using (cohort_month, period_month, account_id)
    group by g.cohort_month, g.period_month
),

with_month0 as (
    select
        *,
        first_value(paying_accounts) over cohort as month0_paying_accounts,
        first_value(mrr) over cohort as month0_mrr
    from cohort_months
    window cohort as (partition by cohort_month order by period_month)
),

rates as (
    select
        cohort_month,
        months_since_signup,
        period_month,
        cast(cohort_accounts as bigint) as cohort_accounts,
        cast(paying_accounts as bigint) as paying_accounts,
        round(mrr, 2) as mrr,
        cast(active_accounts as bigint) as active_accounts,
        round(cast(paying_accounts as numeric) / cohort_accounts, 4) as paying_share_of_cohort,
        round(cast(active_accounts as numeric) / cohort_accounts, 4) as active_share_of_cohort,
        round(cast(paying_accounts as numeric) / nullif(month0_paying_accounts, 0), 4) as logo_retention_rate,
        round(mrr / nullif(month0_mrr, 0), 4) as cohort_mrr_retention_rate
    from with_month0
)

select
    *,
    -- Deprecated: the old name of cohort_mrr_retention_rate, kept for BI for one release (CHANGELOG.md)
    cohort_mrr_retention_rate as revenue_retention_rate
from rates
