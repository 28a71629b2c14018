-- Subscription churn events: a paid subscription ends and no paid subscription is in force at
-- that instant (plan changes between paid plans hand over at the same instant and are not
-- churn; a downgrade to free is). One definition for every mart that counts churn.
select
    s.account_id,
    s.ended_at as churned_at,
    s.end_reason,
    s.end_reason in (
        {%- for reason in var('involuntary_churn_reasons') %}'{{ reason }}'{{ ", " if not loop.last }}{% endfor -%}
    ) as is_involuntary
from {{ ref('int_paid_subscriptions') }} as s
where s.ended_at is not null
  and not exists (
      select 1
      from {{ ref('int_paid_subscriptions') }} as n
      where n.account_id = s.account_id
        and {{ in_force_at('s.ended_at', 'n') }}
  )
