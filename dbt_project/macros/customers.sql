{#- Shared definitions of the customer marts (models/marts/customers). -#}

{#- A subscription row covers the half-open interval [started_at, ended_at): at a plan change the
    old row ends at the instant the new one starts, so exactly one row is in force at any instant. -#}
{% macro in_force_at(instant, alias='s') -%}
    ({{ alias }}.started_at <= {{ instant }} and ({{ alias }}.ended_at is null or {{ alias }}.ended_at > {{ instant }}))
{%- endmacro %}

{#- The end of observed data: the end of the newest hour holding any extracted row (a meter
    reading, a session start or a usage event). Months after it are not reported; the month
    that contains it is reported but flagged incomplete. -#}
{% macro customers_data_horizon() -%}
    {%- set newest_hour_start -%}
        greatest(
            (select max(hour_start) from {{ ref('stg_app__account_state_hourly') }}),
            (select {{ dbt.date_trunc('hour', 'max(started_at)') }} from {{ ref('stg_app__sessions') }}),
            (select {{ dbt.date_trunc('hour', 'max(occurred_at)') }} from {{ ref('stg_app__usage_events') }})
        )
    {%- endset -%}
    (select {{ dbt.dateadd('hour', 1, newest_hour_start) }})
{%- endmacro %}

{#- Calendar months (UTC) from the first signup's month to the month holding the data horizon. -#}
{% macro customers_month_spine() -%}
    {%- set first_month -%}
        (select {{ dbt.date_trunc('month', 'min(signup_at)') }} from {{ ref('stg_app__accounts') }})
    {%- endset -%}
    select
        cast(m as date) as month_start,
        cast({{ dbt.dateadd('month', 1, 'm') }} as date) as next_month_start,
        {{ dbt.dateadd('month', 1, 'm') }} <= {{ customers_data_horizon() }} as is_complete_month
    from {{ time_series(first_month, dbt.dateadd('microsecond', -1, customers_data_horizon()), 'month', 'spine', 'm') }}
{%- endmacro %}

{#- Activity per account and UTC day, from the daily-partitioned int_account_activity_days (raw
    telemetry is purged after the retention period; this table keeps the history). Before the
    daily layer's first run the table does not exist yet: the marts then see no activity instead
    of failing, and the next rebuild after the daily run fills them. Models calling this also
    declare `-- depends_on: {{ ref('int_account_activity_days') }}` (refs under `execute` are
    invisible to dbt's parser). -#}
{% macro customers_activity_days() -%}
    {%- set relation = load_relation(ref('int_account_activity_days')) if execute else none -%}
    {%- if relation is not none -%}
    (select account_id, activity_date, first_session_at from {{ ref('int_account_activity_days') }})
    {%- else -%}
    (select cast(null as bigint) as account_id, cast(null as date) as activity_date,
            cast(null as {{ type_timestamp_tz() }}) as first_session_at
     where false)
    {%- endif -%}
{%- endmacro %}

{#- The last UTC day the daily layer has built (fct_usage_daily holds a row for every signed-up
    account and day it built): activity after it is not in int_account_activity_days yet, so an
    inactivity streak may only be judged up to this day. NULL before the first daily run. -#}
{% macro customers_last_built_day() -%}
    {%- set relation = load_relation(ref('fct_usage_daily')) if execute else none -%}
    {%- if relation is not none -%}
    (select max(usage_date) from {{ ref('fct_usage_daily') }})
    {%- else -%}
    cast(null as date)
    {%- endif -%}
{%- endmacro %}
