select
    event_id,
    account_id,
    occurred_at,
    event_type,
    export_format,
    quantity
from {{ source('app', 'usage_events') }}
