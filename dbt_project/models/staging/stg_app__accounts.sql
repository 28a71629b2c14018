-- owner_name and owner_email are personal data: they stop here.
select
    account_id,
    account_name,
    user_type,
    country,
    timezone,
    acquisition_channel,
    signup_at
from {{ source('app', 'accounts') }}
