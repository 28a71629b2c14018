{#- fct_usage_daily or fct_usage_monthly (`grain`: daily | monthly) for a model that is rebuilt whole by
    the unpartitioned dbt run (report input views). Those rollups are partitioned tables that exist
    only once their first partition has been built: a fresh warehouse's first hours (or a backfill
    shorter than a day) run the unpartitioned models before any day or month is complete. Until
    then the model sees an empty rollup with the same columns instead of failing, and the next
    unpartitioned run after the daily/monthly run reads the table. Models calling this also declare
    `-- depends_on: {{ ref('fct_usage_<grain>') }}` (refs under `execute` are invisible to dbt's
    parser). -#}
{% macro usage_rollup(grain) -%}
    {%- set model = {'daily': 'fct_usage_daily', 'monthly': 'fct_usage_monthly'}[grain] -%}
    {%- set relation = load_relation(ref(model)) if execute else none -%}
    {%- if relation is not none -%}
    {{ ref(model) }}
    {%- else -%}
    {%- set counts = ['sessions_created', 'transcriptions_completed', 'transcriptions_failed', 'exports_generated',
                      'exports_csv', 'exports_pdf', 'exports_xlsx', 'exports_txt', 'api_calls',
                      'share_links_created', 'share_links_accessed', 'concurrent_sessions_peak'] -%}
    (select cast(null as bigint) as account_id,
            cast(null as date) as {{ 'usage_date' if grain == 'daily' else 'usage_month' }},
            cast(null as numeric) as audio_minutes_processed,
            cast(null as numeric) as storage_used_mb,
            {%- for column in counts %}
            cast(null as bigint) as {{ column }}{{ ',' if not loop.last }}
            {%- endfor %}
     where false)
    {%- endif -%}
{%- endmacro %}
