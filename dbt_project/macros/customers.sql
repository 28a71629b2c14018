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
    (select greatest(
        (select max(hour_start) from {{ ref('stg_app__account_state_hourly') }}),
        (select date_trunc('hour', max(started_at)) from {{ ref('stg_app__sessions') }}),
        (select date_trunc('hour', max(occurred_at)) from {{ ref('stg_app__usage_events') }})
    ) + interval '1 hour')
{%- endmacro %}

{#- Calendar months (UTC) from the first signup's month to the month holding the data horizon. -#}
{% macro customers_month_spine() -%}
    select
        cast(m as date) as month_start,
        cast(m + interval '1 month' as date) as next_month_start,
        m + interval '1 month' <= {{ customers_data_horizon() }} as is_complete_month
    from generate_series(
        (select date_trunc('month', min(signup_at)) from {{ ref('stg_app__accounts') }}),
        {{ customers_data_horizon() }} - interval '1 microsecond',
        interval '1 month'
    ) as m
{%- endmacro %}
