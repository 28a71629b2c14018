{{ config(materialized='table') }}
-- The overage rule's terms, one row per plan and limited dimension: a month's usage above
-- included_units costs overage_unit_price per unit (audio minutes, sessions and exports as
-- counted in the month, storage at its month-end level; docs/metrics.md "Plan cost and
-- overage"). NULL included_units = unlimited, never overage. A limit whose unit price is 0 (the
-- free plan) is not billed but caps usage (caps_usage): the product stops there. Read by
-- fct_usage_overage_monthly (actual usage) and by the ML plan advice (projected usage), which
-- is why it is a table and not inlined.
with plans as (
    select * from {{ ref('stg_app__plans') }}
),

rates as (
    select plan_id, 'audio_minutes' as dimension, limit_audio_minutes as included_units,
           overage_audio_minute_price as overage_unit_price
    from plans
    union all
    select plan_id, 'sessions' as dimension, limit_sessions as included_units,
           overage_session_price as overage_unit_price
    from plans
    union all
    select plan_id, 'exports' as dimension, limit_exports as included_units,
           overage_export_price as overage_unit_price
    from plans
    union all
    select plan_id, 'storage_mb' as dimension, limit_storage_mb as included_units,
           overage_storage_mb_price as overage_unit_price
    from plans
)

select
    plan_id,
    dimension,
    included_units,
    overage_unit_price,
    included_units is not null and overage_unit_price = 0 as caps_usage
from rates
