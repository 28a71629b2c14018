{#- An instant (a timestamp with a time zone): every time column of the platform is one, stored in
    UTC. dbt's type_timestamp() is a local timestamp on several adapters (DuckDB, Snowflake), so
    this names the zoned type; BigQuery's `timestamp` would be its bigquery__ implementation. -#}
{% macro type_timestamp_tz() -%}
    {{ return(adapter.dispatch('type_timestamp_tz', 'usage_analytics')()) }}
{%- endmacro %}

{% macro default__type_timestamp_tz() -%}
    timestamp with time zone
{%- endmacro %}
