-- Every subscription period with the monthly-normalised price it contributes to MRR while it
-- is paying: its plan's price_per_month for its billing period (int_plan_prices: monthly_price,
-- or round(annual_price / 12, 2) on annual billing). Trials (unless mrr_count_trials) and free
-- plans (tier 0) contribute 0.
-- The paying interval is [started_at, paying_until): paying_until is ended_at (NULL while the
-- row is open), or, when mrr_count_past_due is false, the issue time of the invoice whose
-- failure put the row past_due (status past_due, or ended for non_payment).
with subscriptions as (
    select * from {{ ref('stg_app__subscriptions') }}
),

plans as (
    select * from {{ ref('int_plan_prices') }}
),

first_failed_invoice as (
    select subscription_id, min(issued_at) as failed_at
    from {{ ref('stg_app__invoices') }}
    where status = 'failed' and subscription_id is not null
    group by subscription_id
),

priced as (
    select
        s.subscription_id,
        s.account_id,
        s.plan_id,
        s.billing_period,
        s.is_trial,
        p.is_free,
        s.status,
        s.end_reason,
        s.started_at,
        s.ended_at,
        case
            when s.status = 'past_due' or s.end_reason = 'non_payment' then f.failed_at
        end as past_due_since,
        case
            when p.is_free then 0
            {% if not var('mrr_count_trials') -%}
            when s.is_trial then 0
            {% endif -%}
            else p.price_per_month
        end as monthly_mrr
    from subscriptions as s
    inner join plans as p on p.plan_id = s.plan_id and p.billing_period = s.billing_period
    left join first_failed_invoice as f on f.subscription_id = s.subscription_id
)

select
    *,
    {% if var('mrr_count_past_due') -%}
    ended_at as paying_until
    {%- else -%}
    case
        when past_due_since is not null and (ended_at is null or past_due_since < ended_at)
            then past_due_since
        else ended_at
    end as paying_until
    {%- endif %}
from priced
