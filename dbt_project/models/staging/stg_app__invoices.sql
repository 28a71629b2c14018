select
    invoice_id,
    account_id,
    subscription_id,
    period_start,
    period_end,
    issued_at,
    subscription_fee,
    overage_fee,
    total,
    currency,
    status
from {{ source('app', 'invoices') }}
