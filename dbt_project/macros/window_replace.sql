{#- A custom incremental strategy: the run's window is deleted and rebuilt in the same
    transaction, so re-running any partition or range replaces exactly that window and rows that
    no longer exist upstream disappear too (unlike delete+insert on a unique key).
    The model names its time column with config(window_column=...). -#}
{% macro get_incremental_window_replace_sql(arg_dict) %}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set window_column = config.require("window_column") -%}
    {%- set columns = arg_dict["dest_columns"] | map(attribute="quoted") | join(", ") -%}
    delete from {{ target }} where {{ in_window(window_column) }};
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }};
{% endmacro %}
