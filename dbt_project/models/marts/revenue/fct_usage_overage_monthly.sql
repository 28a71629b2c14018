-- The overage each account's month of usage implies on the plan in force at the month's end:
-- per limited dimension, the usage above the plan's included units (int_plan_overage_rates;
-- audio minutes, sessions and exports counted over the month, storage at its month-end level),
-- priced at the dimension's overage unit price. Only paid, non-trial months owe it
-- (is_billable); a trial or the free plan owes 0. The one implementation of "usage -> overage"
-- for actual usage: the financial reconciliation reads it; the ML plan advice prices projected
-- usage with the same int_plan_overage_rates (docs/metrics.md, "Plan cost and overage").
-- Months without a plan in force have no row. The product bills overage at each subscription
-- anniversary (its own billing, in the simulator), so invoiced overage differs from these
-- calendar months by timing.
with utilization as (
    select * from {{ ref('fct_plan_utilization_monthly') }}
    where plan_id is not null
),

usage_by_dimension as (
    select account_id, usage_month, plan_id, 'audio_minutes' as dimension,
           cast(audio_minutes_processed as numeric) as usage
    from utilization
    union all
    select account_id, usage_month, plan_id, 'sessions' as dimension, cast(sessions_created as numeric) as usage
    from utilization
    union all
    select account_id, usage_month, plan_id, 'exports' as dimension, cast(exports_generated as numeric) as usage
    from utilization
    union all
    select account_id, usage_month, plan_id, 'storage_mb' as dimension, cast(storage_used_mb as numeric) as usage
    from utilization
),

over_limit as (
    select
        u.account_id,
        u.usage_month,
        u.dimension,
        -- NULL usage (no storage reading) or NULL included units (unlimited): nothing over
        case when u.usage > r.included_units then u.usage - r.included_units else 0 end as units_over_limit,
        r.overage_unit_price
    from usage_by_dimension as u
    inner join {{ ref('int_plan_overage_rates') }} as r
        on r.plan_id = u.plan_id and r.dimension = u.dimension
),

per_month as (
    select
        account_id,
        usage_month,
        sum(case when dimension = 'audio_minutes' then units_over_limit else 0 end) as audio_minutes_over_limit,
        sum(case when dimension = 'sessions' then units_over_limit else 0 end) as sessions_over_limit,
        sum(case when dimension = 'exports' then units_over_limit else 0 end) as exports_over_limit,
        sum(case when dimension = 'storage_mb' then units_over_limit else 0 end) as storage_mb_over_limit,
        sum(units_over_limit * overage_unit_price) as overage_amount
    from over_limit
    group by account_id, usage_month
)

select
    u.account_id,
    u.usage_month,
    u.plan_id,
    u.is_trial,
    not u.is_trial and not p.is_free as is_billable,
    m.audio_minutes_over_limit,
    cast(m.sessions_over_limit as bigint) as sessions_over_limit,
    cast(m.exports_over_limit as bigint) as exports_over_limit,
    m.storage_mb_over_limit,
    cast(case when not u.is_trial and not p.is_free then round(m.overage_amount, 2) else 0 end
         as numeric(14, 2)) as overage_cost
from utilization as u
inner join per_month as m using (account_id, usage_month)
inner join {{ ref('stg_app__plans') }} as p on p.plan_id = u.plan_id
