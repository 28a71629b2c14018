{{ config(materialized='table') }}
-- Invoiced revenue per UTC issue day, plan and currency. Every valid invoice counts, whatever
-- its payment status (revenue = invoiced); collected_revenue is the part already paid, and the
-- open and failed parts are shown beside it. The plan is the invoiced subscription's plan;
-- invoices without a subscription (or whose subscription is not in the warehouse) are 'unknown'.

with invoices as (
    select * from {{ ref('stg_app__invoices') }}
),

subscriptions as (
    select subscription_id, plan_id from {{ ref('stg_app__subscriptions') }}
)

select
    cast({{ dbt.date_trunc('day', 'i.issued_at') }} as date) as revenue_date,
    coalesce(s.plan_id, 'unknown') as plan_id,
    i.currency,
    count(*) as invoices,
    count(case when i.status = 'paid' then 1 end) as invoices_paid,
    count(case when i.status = 'open' then 1 end) as invoices_open,
    count(case when i.status = 'failed' then 1 end) as invoices_failed,
    sum(i.subscription_fee) as subscription_revenue,
    sum(i.overage_fee) as overage_revenue,
    sum(i.total) as total_revenue,
    sum(case when i.status = 'paid' then i.total else 0 end) as collected_revenue,
    sum(case when i.status = 'open' then i.total else 0 end) as open_revenue,
    sum(case when i.status = 'failed' then i.total else 0 end) as failed_revenue
from invoices as i
left join subscriptions as s on s.subscription_id = i.subscription_id
group by 1, 2, 3
