-- Exports by format and share links per day of the month (platform totals).
select
    usage_date,
    sum(exports_csv) as exports_csv,
    sum(exports_pdf) as exports_pdf,
    sum(exports_xlsx) as exports_xlsx,
    sum(exports_txt) as exports_txt,
    sum(share_links_created) as share_links_created,
    sum(share_links_accessed) as share_links_accessed
from marts.fct_usage_daily
where usage_date >= %(period_start)s
  and usage_date < %(period_end)s
group by usage_date
order by usage_date
