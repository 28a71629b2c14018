-- depends_on: {{ ref('fct_usage_daily') }}
-- Platform totals per day: accounts signed up, accounts active (any session or usage event) and
-- usage by metric.
select
    usage_date as period_start,
    row_number() over (partition by usage_date order by usage_date) as row_in_period,
    usage_date,
    count(*) as accounts,
    sum(case
        when sessions_created + exports_generated + api_calls + share_links_created + share_links_accessed > 0
            then 1 else 0
    end) as active_accounts,
    sum(sessions_created) as sessions_created,
    sum(audio_minutes_processed) as audio_minutes_processed,
    sum(transcriptions_completed) as transcriptions_completed,
    sum(transcriptions_failed) as transcriptions_failed,
    sum(exports_generated) as exports_generated,
    sum(api_calls) as api_calls,
    sum(share_links_created) as share_links_created,
    sum(share_links_accessed) as share_links_accessed
from {{ usage_rollup('daily') }}
group by usage_date
