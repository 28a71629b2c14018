-- owner_name and owner_email are personal data: they stop here. account_name is personal data
-- too (often the owner's name): only the private int_account_names keeps it, never a mart.
select
    account_id,
    account_name,
    user_type,
    country,
    timezone,
    acquisition_channel,
    signup_at
from {{ source('app', 'accounts') }}
