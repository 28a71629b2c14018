select
    plan_id,
    plan_name,
    tier,
    is_free,
    monthly_price,
    annual_price,
    round(annual_price / 12, 2) as annual_price_per_month,
    limit_audio_minutes,
    limit_sessions,
    limit_storage_mb,
    limit_exports,
    overage_audio_minute_price,
    overage_session_price,
    overage_storage_mb_price,
    overage_export_price,
    trial_days
from {{ ref('stg_app__plans') }}
