-- depends_on: {{ ref('fct_usage_monthly') }}
-- Each feature's use in each month: total, accounts using it and their share of active accounts
-- (active = any session or usage event in the month). A month without active accounts has no rows.
with features as (
    select 1 as position, 'Transcription sessions' as feature
    union all select 2, 'Exports (all formats)'
    union all select 3, 'CSV exports'
    union all select 4, 'PDF exports'
    union all select 5, 'XLSX exports'
    union all select 6, 'TXT exports'
    union all select 7, 'Share links created'
    union all select 8, 'Share links accessed'
    union all select 9, 'API calls'
),

monthly as (
    select
        *,
        sum(case
            when sessions_created + exports_generated + api_calls + share_links_created + share_links_accessed > 0
                then 1 else 0
        end) over (partition by usage_month) as active_accounts
    from {{ usage_rollup('monthly') }}
),

amounts as (
    select
        m.usage_month,
        m.active_accounts,
        f.position,
        f.feature,
        case f.position
            when 1 then m.sessions_created
            when 2 then m.exports_generated
            when 3 then m.exports_csv
            when 4 then m.exports_pdf
            when 5 then m.exports_xlsx
            when 6 then m.exports_txt
            when 7 then m.share_links_created
            when 8 then m.share_links_accessed
            when 9 then m.api_calls
        end as amount
    from monthly as m
    cross join features as f
)

select
    usage_month as period_start,
    row_number() over (partition by usage_month order by position) as row_in_period,
    feature,
    sum(amount) as total,
    sum(case when amount > 0 then 1 else 0 end) as accounts_using,
    max(active_accounts) as active_accounts,
    round(100.0 * sum(case when amount > 0 then 1 else 0 end) / nullif(max(active_accounts), 0), 1)
        as pct_of_active_accounts
from amounts
group by usage_month, position, feature
having max(active_accounts) > 0
