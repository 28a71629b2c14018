-- The true peak of overlapping sessions per account and hour in the run's window, counting
-- sessions that started in an earlier hour and are still running. Sessions are half-open
-- intervals [started_at, ended_at): one ending at the instant another starts does not overlap.
-- A sweep per account-hour: +1 where a session (clipped to the hour) starts, -1 where it ends,
-- ends sorted before starts at the same instant; the peak is the running sum's maximum.
-- Each session is cut into the hours it overlaps by generating just those hours (a session lasts
-- at most 24 hours: longer ones are quarantined), then kept to the window's hours up to now. Joining
-- every session to an hour spine with range conditions instead compares every session with every
-- hour of the window: 112 s instead of 0.2 s to cut 390k sessions of a 150-day range (measured).
with segments as (
    select
        s.account_id,
        h.hour_start,
        greatest(s.started_at, h.hour_start) as segment_start,
        least(s.ended_at, {{ dbt.dateadd('hour', 1, 'h.hour_start') }}) as segment_end
    from {{ ref('stg_app__sessions') }} as s
    cross join {{ time_series(
        dbt.date_trunc('hour', 's.started_at'), dbt.dateadd('microsecond', -1, 's.ended_at'), 'hour', 'h', 'hour_start'
    ) }}
    where s.started_at < {{ window_end() }}
        and s.ended_at > {{ window_start() }}
        -- sessions last at most 24 hours (longer ones are quarantined): lets the index help
        and s.started_at >= {{ dbt.dateadd('hour', -24, window_start()) }}
        and h.hour_start >= {{ dbt.date_trunc('hour', window_start()) }}
        and h.hour_start < least({{ window_end() }}, current_timestamp)
),

boundaries as (
    select account_id, hour_start, segment_start as boundary_at, 1 as delta
    from segments
    where segment_end > segment_start
    union all
    select account_id, hour_start, segment_end as boundary_at, -1 as delta
    from segments
    where segment_end > segment_start
),

running as (
    select
        account_id,
        hour_start,
        sum(delta) over (
            partition by account_id, hour_start
            order by boundary_at, delta
            rows between unbounded preceding and current row
        ) as active_sessions
    from boundaries
)

select
    account_id,
    hour_start,
    cast(max(active_sessions) as bigint) as concurrent_sessions_peak
from running
group by account_id, hour_start
