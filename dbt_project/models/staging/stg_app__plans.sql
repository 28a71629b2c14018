select
    plan_id,
    plan_name,
    tier,
    monthly_price,
    annual_price,
    limit_audio_minutes,
    limit_sessions,
    limit_storage_mb,
    limit_exports,
    overage_audio_minute_price,
    overage_session_price,
    overage_storage_mb_price,
    overage_export_price,
    trial_days,
    tier = 0 as is_free
from {{ source('app', 'plans') }}
