-- One row per account: descriptive attributes (no personal data) and the current subscription.
-- The account's name is left out: it is often its owner's name, so it is personal data and stays
-- in the private int_account_names. BI tools show account_label, a pseudonym made of the id.
with current_subscription as (
    select *
    from (
        select
            *,
            row_number() over (partition by account_id order by started_at desc, subscription_id desc) as recency
        from {{ ref('stg_app__subscriptions') }}
    ) as ranked
    where recency = 1
)

select
    a.account_id,
    {{ dbt.concat(["'Account '", dbt.cast('a.account_id', dbt.type_string())]) }} as account_label,
    a.user_type,
    a.country,
    a.timezone,
    a.acquisition_channel,
    a.signup_at,
    cast(a.signup_at as date) as signup_date,
    s.plan_id as current_plan_id,
    s.billing_period as current_billing_period,
    case when s.ended_at is null then s.status else 'none' end as current_subscription_status
from {{ ref('stg_app__accounts') }} as a
left join current_subscription as s using (account_id)
