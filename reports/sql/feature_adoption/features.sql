-- Each feature's use in the month: total, accounts using it and their share of active accounts
-- (active = any session or usage event in the month).
with monthly as (
    select *
    from marts.fct_usage_monthly
    where usage_month = %(period_start)s
),

active as (
    select count(*) as active_accounts
    from monthly
    where sessions_created + exports_generated + api_calls + share_links_created + share_links_accessed > 0
),

features as (
    select f.position, f.feature, f.amount
    from monthly as m
    cross join lateral (
        values
            (1, 'Transcription sessions', m.sessions_created),
            (2, 'Exports (all formats)', m.exports_generated),
            (3, 'CSV exports', m.exports_csv),
            (4, 'PDF exports', m.exports_pdf),
            (5, 'XLSX exports', m.exports_xlsx),
            (6, 'TXT exports', m.exports_txt),
            (7, 'Share links created', m.share_links_created),
            (8, 'Share links accessed', m.share_links_accessed),
            (9, 'API calls', m.api_calls)
    ) as f (position, feature, amount)
)

select
    f.feature,
    sum(f.amount) as total,
    count(*) filter (where f.amount > 0) as accounts_using,
    max(a.active_accounts) as active_accounts,
    round(100.0 * count(*) filter (where f.amount > 0) / nullif(max(a.active_accounts), 0), 1)
        as pct_of_active_accounts
from features as f
cross join active as a
group by f.position, f.feature
having max(a.active_accounts) > 0
order by f.position
