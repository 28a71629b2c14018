{{
    config(
        materialized='table',
        schema='marts',
        persist_docs={'relation': true, 'columns': true},
        grants={'select': [env_var('BI_ROLE', 'bi_reader')]},
    )
}}
-- One row per UTC day: MetricFlow's time spine (_time_spine_daily.yml), which it joins to for
-- coarser grains of metric_time and for periods without rows. Fixed bounds, so a rebuild gives
-- the same table; they cover the simulator's seeded history (a year before the first extracted
-- hour) and any deployment before 2050. dbt's cross-database date_spine keeps it portable.
select cast(date_day as date) as date_day
from (
    {{ dbt.date_spine('day', "cast('2000-01-01' as date)", "cast('2050-01-01' as date)") }}
) as spine
