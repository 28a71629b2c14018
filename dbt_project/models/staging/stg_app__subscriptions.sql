-- raw keeps every version of a subscription row that a snapshot saw; the latest is the truth.
with versions as (
    select
        *,
        row_number() over (partition by subscription_id order by updated_at desc) as version_rank
    from {{ source('app', 'subscriptions') }}
)

select
    subscription_id,
    account_id,
    plan_id,
    billing_period,
    is_trial,
    started_at,
    ended_at,
    end_reason,
    status,
    updated_at
from versions
where version_rank = 1
