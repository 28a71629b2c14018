-- The true peak of overlapping sessions per account and hour in the run's window, counting
-- sessions that started in an earlier hour and are still running. Sessions are half-open
-- intervals [started_at, ended_at): one ending at the instant another starts does not overlap.
-- A sweep per account-hour: +1 where a session (clipped to the hour) starts, -1 where it ends,
-- ends sorted before starts at the same instant; the peak is the running sum's maximum.
with hours as (
    {{ period_spine('hour', "select min(started_at) from " ~ ref('stg_app__sessions')) }}
),

segments as (
    select
        s.account_id,
        h.period_start as hour_start,
        greatest(s.started_at, h.period_start) as segment_start,
        least(s.ended_at, h.period_start + interval '1 hour') as segment_end
    from {{ ref('stg_app__sessions') }} as s
    inner join hours as h
        on h.period_start >= date_trunc('hour', s.started_at)
        and h.period_start < s.ended_at
    where s.started_at < {{ window_end() }}
        and s.ended_at > {{ window_start() }}
        -- sessions last at most 24 hours (longer ones are quarantined): lets the index help
        and s.started_at >= {{ window_start() }} - interval '24 hours'
),

boundaries as (
    select account_id, hour_start, segment_start as at, 1 as delta
    from segments
    where segment_end > segment_start
    union all
    select account_id, hour_start, segment_end as at, -1 as delta
    from segments
    where segment_end > segment_start
),

running as (
    select
        account_id,
        hour_start,
        sum(delta) over (
            partition by account_id, hour_start
            order by at, delta
            rows between unbounded preceding and current row
        ) as active_sessions
    from boundaries
)

select
    account_id,
    hour_start,
    max(active_sessions) as concurrent_sessions_peak
from running
group by account_id, hour_start
