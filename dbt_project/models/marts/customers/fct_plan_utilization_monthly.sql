-- Plan utilization per account and calendar month: the subscription row in force at the
-- month's end instant (trials included, flagged; NULL plan when none), each limit (NULL =
-- unlimited), the month's usage from fct_usage_monthly and usage / limit in percent (NULL when
-- the limit is unlimited or there is no plan). Storage compares the month-end reading with the
-- storage limit. Rows exist for the months fct_usage_monthly holds.
--
-- fct_usage_monthly is a monthly-partitioned table built after this unpartitioned model in a
-- fresh deployment's first pass (run_layers runs dimensions before rollups); until it exists,
-- this model builds empty instead of failing, and the next dimensions run fills it.
-- depends_on: {{ ref('fct_usage_monthly') }}
{% set usage_relation = load_relation(ref('fct_usage_monthly')) if execute else none %}

with usage as (
    {% if usage_relation is not none %}
    select account_id, usage_month, audio_minutes_processed, sessions_created, exports_generated,
           storage_used_mb
    from {{ ref('fct_usage_monthly') }}
    {% else %}
    select
        cast(null as bigint) as account_id,
        cast(null as date) as usage_month,
        cast(null as numeric) as audio_minutes_processed,
        cast(null as bigint) as sessions_created,
        cast(null as bigint) as exports_generated,
        cast(null as numeric) as storage_used_mb
    where false
    {% endif %}
),

{% set month_end = 'cast(' ~ dbt.dateadd('month', 1, 'u.usage_month') ~ ' as ' ~ type_timestamp_tz() ~ ')' %}
-- the row in force at the month's end instant; if rows overlapped, the latest started wins
ranked_plans as (
    select
        u.account_id,
        u.usage_month,
        s.plan_id,
        s.is_trial,
        row_number() over (
            partition by u.account_id, u.usage_month order by s.started_at desc, s.subscription_id desc
        ) as plan_rank
    from usage as u
    left join {{ ref('stg_app__subscriptions') }} as s
        on s.account_id = u.account_id and {{ in_force_at(month_end) }}
),

plan_at_month_end as (
    select account_id, usage_month, plan_id, is_trial
    from ranked_plans
    where plan_rank = 1
),

utilization as (
    select
        u.account_id,
        u.usage_month,
        pm.plan_id,
        pm.is_trial,
        p.limit_audio_minutes,
        p.limit_sessions,
        p.limit_exports,
        p.limit_storage_mb,
        u.audio_minutes_processed,
        u.sessions_created,
        u.exports_generated,
        u.storage_used_mb,
        round(100 * u.audio_minutes_processed / nullif(p.limit_audio_minutes, 0), 2) as audio_minutes_utilization_pct,
        round(100.0 * u.sessions_created / nullif(p.limit_sessions, 0), 2) as sessions_utilization_pct,
        round(100.0 * u.exports_generated / nullif(p.limit_exports, 0), 2) as exports_utilization_pct,
        round(100 * u.storage_used_mb / nullif(p.limit_storage_mb, 0), 2) as storage_utilization_pct
    from usage as u
    inner join plan_at_month_end as pm using (account_id, usage_month)
    left join {{ ref('stg_app__plans') }} as p on p.plan_id = pm.plan_id
),

peaks as (
    select
        *,
        -- greatest() ignores NULLs: the highest utilization over the limited dimensions
        greatest(audio_minutes_utilization_pct, sessions_utilization_pct,
                 exports_utilization_pct, storage_utilization_pct) as max_utilization_pct
    from utilization
)

select
    account_id,
    usage_month,
    plan_id,
    is_trial,
    limit_audio_minutes,
    limit_sessions,
    limit_exports,
    limit_storage_mb,
    audio_minutes_processed,
    sessions_created,
    exports_generated,
    storage_used_mb,
    audio_minutes_utilization_pct,
    sessions_utilization_pct,
    exports_utilization_pct,
    storage_utilization_pct,
    max_utilization_pct,
    max_utilization_pct - lag(max_utilization_pct) over (
        partition by account_id order by usage_month
    ) as max_utilization_pct_change_mom,
    max_utilization_pct >= {{ var('utilization_alert_pct') }} as is_near_limit
from peaks
