{#- The instants from `start` to `stop`, both included, one `datepart` apart, as a FROM item
    `alias (column)`. Its bounds may refer to tables earlier in the FROM clause (each session's
    hours), so it also serves as a lateral join. Every warehouse generates series its own way
    (generate_series, GENERATE_TIMESTAMP_ARRAY, a generator table): an adapter without an
    implementation here fails to compile, naming the macro to add (docs/portability.md). -#}
{% macro time_series(start, stop, datepart, alias, column) -%}
    {{ return(adapter.dispatch('time_series', 'usage_analytics')(start, stop, datepart, alias, column)) }}
{%- endmacro %}

{#- A set-returning function in FROM may read earlier FROM items without LATERAL. -#}
{% macro postgres__time_series(start, stop, datepart, alias, column) -%}
    generate_series({{ start }}, {{ stop }}, interval '1 {{ datepart }}') as {{ alias }} ({{ column }})
{%- endmacro %}

{#- DuckDB's generate_series in a select list returns a list; unnest makes it rows, and a
    subquery in FROM that reads earlier FROM items is joined laterally. -#}
{% macro duckdb__time_series(start, stop, datepart, alias, column) -%}
    (select unnest(generate_series({{ start }}, {{ stop }}, interval 1 {{ datepart }})) as {{ column }}) as {{ alias }}
{%- endmacro %}

{% macro default__time_series(start, stop, datepart, alias, column) -%}
    {{ exceptions.raise_compiler_error(
        "time_series() has no implementation for the '" ~ adapter.type() ~ "' adapter: add "
        ~ adapter.type() ~ "__time_series to dbt_project/macros/cross_database/time_series.sql"
    ) }}
{%- endmacro %}
