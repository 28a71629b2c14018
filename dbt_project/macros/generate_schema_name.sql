{#- Models land in the schema named in their folder config (staging, marts, ...), not in
    "<target schema>_<custom schema>": BI users and grants address these fixed names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name is not none else target.schema }}
{%- endmacro %}
