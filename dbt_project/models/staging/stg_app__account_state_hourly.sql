select
    hour_start,
    account_id,
    storage_used_mb,
    plan_id,
    billing_period,
    subscription_status
from {{ source('app', 'account_state_hourly') }}
