{#- The run's time window as SQL literals, end exclusive. Partitioned Dagster runs set
    DBT_WINDOW_START/DBT_WINDOW_END (orchestration/defs/dbt_window.py); otherwise the vars
    window_start/window_end apply (defaults: all time; `--vars` works for runs by hand). -#}
{% macro window_start() -%}
    cast('{{ env_var("DBT_WINDOW_START", var("window_start")) }}' as {{ type_timestamp_tz() }})
{%- endmacro %}

{% macro window_end() -%}
    cast('{{ env_var("DBT_WINDOW_END", var("window_end")) }}' as {{ type_timestamp_tz() }})
{%- endmacro %}

{% macro in_window(column) -%}
    ({{ column }} >= {{ window_start() }} and {{ column }} < {{ window_end() }})
{%- endmacro %}

{#- Every period start of the given grain inside the window, clipped to the data's first
    period and to now, so that the all-time default window does not generate centuries of
    empty periods. Partitioned runs always pass a past window, which the clipping leaves alone. -#}
{% macro period_spine(grain, lower_bound_sql) -%}
    select period_start
    from {{ time_series(
        dbt.date_trunc(grain, 'greatest(' ~ window_start() ~ ', (' ~ lower_bound_sql ~ '))'),
        dbt.dateadd('microsecond', -1, 'least(' ~ window_end() ~ ', current_timestamp)'),
        grain, 'spine', 'period_start'
    ) }}
{%- endmacro %}
