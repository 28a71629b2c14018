-- depends_on: {{ ref('fct_usage_daily') }}
-- Exports by format and share links per day (platform totals).
select
    usage_date as period_start,
    row_number() over (partition by usage_date order by usage_date) as row_in_period,
    usage_date,
    sum(exports_csv) as exports_csv,
    sum(exports_pdf) as exports_pdf,
    sum(exports_xlsx) as exports_xlsx,
    sum(exports_txt) as exports_txt,
    sum(share_links_created) as share_links_created,
    sum(share_links_accessed) as share_links_accessed
from {{ usage_rollup('daily') }}
group by usage_date
