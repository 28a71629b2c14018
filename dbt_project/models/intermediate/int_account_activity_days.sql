-- UTC days on which an account had any activity: a (valid) session started or a usage event
-- occurred. Quarantined rows never reach staging, so they do not count.
select distinct account_id, cast(started_at as date) as activity_date
from {{ ref('stg_app__sessions') }}
union
select distinct account_id, cast(occurred_at as date) as activity_date
from {{ ref('stg_app__usage_events') }}
