-- The floor: plain SQL doing the backfill's work on the same data, in one session, no Dagster, no dbt.
-- Same inputs (the source schema `app`), same window [start, end), same aggregations as the platform's
-- snapshot extraction and the fct_usage_hourly / fct_usage_daily / fct_usage_monthly models (including
-- the concurrent-sessions sweep and the dense account-day grid), same unique indexes. What it skips:
-- quarantine classification, the snapshot log and dbt tests. Entities (accounts, subscriptions) are
-- cumulative as in raw: every row known by the window's end. Each "-- step:" is timed on its own.
-- Parameters: %(start)s, %(end)s (timestamptz).

-- step: reset
DROP SCHEMA IF EXISTS bench_floor CASCADE;
CREATE SCHEMA bench_floor;

-- step: extract
CREATE TABLE bench_floor.accounts AS
SELECT account_id, account_name, user_type, country, timezone, acquisition_channel, signup_at, recorded_at
FROM app.accounts WHERE signup_at < %(end)s;
CREATE TABLE bench_floor.subscriptions AS
SELECT * FROM app.subscriptions WHERE updated_at < %(end)s;
CREATE TABLE bench_floor.sessions AS
SELECT session_id, account_id, started_at, ended_at, audio_minutes, audio_file_size_mb, transcription_status,
       recorded_at
FROM app.sessions WHERE started_at >= %(start)s AND started_at < %(end)s;
CREATE TABLE bench_floor.usage_events AS
SELECT event_id, account_id, occurred_at, event_type, export_format, quantity, recorded_at
FROM app.usage_events WHERE occurred_at >= %(start)s AND occurred_at < %(end)s;
CREATE TABLE bench_floor.invoices AS
SELECT * FROM app.invoices WHERE issued_at >= %(start)s AND issued_at < %(end)s;
-- The subscription active at each reading, found as the platform finds it (orchestration/snapshots/
-- tables.py): per account, a timeline of segments between consecutive start/end instants; a reading
-- takes its account's timeline by hash join and its segment by width_bucket.
CREATE TABLE bench_floor.account_state_hourly AS
WITH bounds AS (
    SELECT account_id, started_at AS instant FROM app.subscriptions
    UNION SELECT account_id, ended_at FROM app.subscriptions WHERE ended_at IS NOT NULL
),
segments AS (
    SELECT account_id, instant AS lo, lead(instant) OVER (PARTITION BY account_id ORDER BY instant) AS hi
    FROM bounds
),
active AS (
    SELECT DISTINCT ON (g.account_id, g.lo) g.account_id, g.lo, s.plan_id, s.billing_period, s.status
    FROM segments AS g
    LEFT JOIN app.subscriptions AS s ON s.account_id = g.account_id AND s.started_at <= g.lo
         AND (s.ended_at IS NULL OR s.ended_at >= coalesce(g.hi, 'infinity'))
    ORDER BY g.account_id, g.lo, s.started_at DESC, s.subscription_id DESC
),
timelines AS (
    SELECT account_id, array_agg(lo ORDER BY lo) AS starts, array_agg(plan_id ORDER BY lo) AS plan_ids,
           array_agg(billing_period ORDER BY lo) AS billing_periods, array_agg(status ORDER BY lo) AS statuses
    FROM active GROUP BY account_id
)
SELECT date_trunc('hour', r.measured_at - interval '1 microsecond') AS hour_start, r.account_id,
       r.storage_used_mb, t.plan_ids[g.segment] AS plan_id, t.billing_periods[g.segment] AS billing_period,
       t.statuses[g.segment] AS subscription_status
FROM app.storage_readings AS r
LEFT JOIN timelines AS t ON t.account_id = r.account_id
CROSS JOIN LATERAL (SELECT width_bucket(r.measured_at - interval '1 microsecond', t.starts) AS segment) AS g
WHERE r.measured_at > %(start)s AND r.measured_at <= %(end)s;
CREATE INDEX ON bench_floor.sessions (started_at);
CREATE INDEX ON bench_floor.usage_events (occurred_at);
CREATE INDEX ON bench_floor.account_state_hourly (hour_start);

-- step: hourly
CREATE TABLE bench_floor.usage_hourly AS
WITH sessions_started AS (
    SELECT account_id, date_trunc('hour', started_at) AS hour_start, count(*) AS sessions_created,
           sum(audio_minutes) AS audio_minutes_processed,
           sum(CASE WHEN transcription_status = 'completed' THEN 1 ELSE 0 END) AS transcriptions_completed,
           sum(CASE WHEN transcription_status = 'failed' THEN 1 ELSE 0 END) AS transcriptions_failed
    FROM bench_floor.sessions GROUP BY 1, 2
),
events AS (
    SELECT account_id, date_trunc('hour', occurred_at) AS hour_start,
           sum(CASE WHEN event_type = 'export' THEN quantity ELSE 0 END) AS exports_generated,
           sum(CASE WHEN event_type = 'export' AND export_format = 'csv' THEN quantity ELSE 0 END) AS exports_csv,
           sum(CASE WHEN event_type = 'export' AND export_format = 'pdf' THEN quantity ELSE 0 END) AS exports_pdf,
           sum(CASE WHEN event_type = 'export' AND export_format = 'xlsx' THEN quantity ELSE 0 END) AS exports_xlsx,
           sum(CASE WHEN event_type = 'export' AND export_format = 'txt' THEN quantity ELSE 0 END) AS exports_txt,
           sum(CASE WHEN event_type = 'api_call' THEN quantity ELSE 0 END) AS api_calls,
           sum(CASE WHEN event_type = 'share_link_created' THEN quantity ELSE 0 END) AS share_links_created,
           sum(CASE WHEN event_type = 'share_link_accessed' THEN quantity ELSE 0 END) AS share_links_accessed
    FROM bench_floor.usage_events GROUP BY 1, 2
),
segments AS (
    SELECT s.account_id, h.hour_start, greatest(s.started_at, h.hour_start) AS segment_start,
           least(s.ended_at, h.hour_start + interval '1 hour') AS segment_end
    FROM bench_floor.sessions AS s
    CROSS JOIN LATERAL generate_series(date_trunc('hour', s.started_at), s.ended_at - interval '1 microsecond',
                                       interval '1 hour') AS h (hour_start)
    WHERE h.hour_start < %(end)s
),
boundaries AS (
    SELECT account_id, hour_start, segment_start AS at, 1 AS delta FROM segments WHERE segment_end > segment_start
    UNION ALL
    SELECT account_id, hour_start, segment_end AS at, -1 AS delta FROM segments WHERE segment_end > segment_start
),
running AS (
    SELECT account_id, hour_start,
           sum(delta) OVER (PARTITION BY account_id, hour_start ORDER BY at, delta
                            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS active_sessions
    FROM boundaries
),
concurrency AS (
    SELECT account_id, hour_start, max(active_sessions) AS concurrent_sessions_peak FROM running GROUP BY 1, 2
),
active_hours AS (
    SELECT account_id, hour_start FROM sessions_started
    UNION SELECT account_id, hour_start FROM events
    UNION SELECT account_id, hour_start FROM concurrency
)
SELECT a.account_id, a.hour_start,
       coalesce(s.sessions_created, 0) AS sessions_created,
       coalesce(s.audio_minutes_processed, 0) AS audio_minutes_processed,
       coalesce(s.transcriptions_completed, 0) AS transcriptions_completed,
       coalesce(s.transcriptions_failed, 0) AS transcriptions_failed,
       coalesce(e.exports_generated, 0) AS exports_generated, coalesce(e.exports_csv, 0) AS exports_csv,
       coalesce(e.exports_pdf, 0) AS exports_pdf, coalesce(e.exports_xlsx, 0) AS exports_xlsx,
       coalesce(e.exports_txt, 0) AS exports_txt, coalesce(e.api_calls, 0) AS api_calls,
       coalesce(e.share_links_created, 0) AS share_links_created,
       coalesce(e.share_links_accessed, 0) AS share_links_accessed,
       st.storage_used_mb, coalesce(c.concurrent_sessions_peak, 0) AS concurrent_sessions_peak
FROM active_hours AS a
LEFT JOIN sessions_started AS s USING (account_id, hour_start)
LEFT JOIN events AS e USING (account_id, hour_start)
LEFT JOIN concurrency AS c USING (account_id, hour_start)
LEFT JOIN bench_floor.account_state_hourly AS st USING (account_id, hour_start);
CREATE UNIQUE INDEX ON bench_floor.usage_hourly (account_id, hour_start);
CREATE INDEX ON bench_floor.usage_hourly (hour_start);

-- step: daily
CREATE TABLE bench_floor.usage_daily AS
WITH days AS (
    SELECT generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 day', interval '1 day')
        AS day_start
),
account_days AS (
    SELECT a.account_id, cast(d.day_start AS date) AS usage_date
    FROM days AS d JOIN bench_floor.accounts AS a ON a.signup_at < d.day_start + interval '1 day'
),
hourly AS (
    SELECT account_id, cast(date_trunc('day', hour_start) AS date) AS usage_date,
           sum(sessions_created) AS sessions_created, sum(audio_minutes_processed) AS audio_minutes_processed,
           sum(transcriptions_completed) AS transcriptions_completed,
           sum(transcriptions_failed) AS transcriptions_failed, sum(exports_generated) AS exports_generated,
           sum(exports_csv) AS exports_csv, sum(exports_pdf) AS exports_pdf, sum(exports_xlsx) AS exports_xlsx,
           sum(exports_txt) AS exports_txt, sum(api_calls) AS api_calls,
           sum(share_links_created) AS share_links_created, sum(share_links_accessed) AS share_links_accessed,
           max(concurrent_sessions_peak) AS concurrent_sessions_peak
    FROM bench_floor.usage_hourly GROUP BY 1, 2
),
storage_at_day_end AS (
    SELECT DISTINCT ON (account_id, date_trunc('day', hour_start))
           account_id, cast(date_trunc('day', hour_start) AS date) AS usage_date, storage_used_mb
    FROM bench_floor.account_state_hourly
    ORDER BY account_id, date_trunc('day', hour_start), hour_start DESC
)
SELECT ad.account_id, ad.usage_date,
       coalesce(h.sessions_created, 0) AS sessions_created,
       coalesce(h.audio_minutes_processed, 0) AS audio_minutes_processed,
       coalesce(h.transcriptions_completed, 0) AS transcriptions_completed,
       coalesce(h.transcriptions_failed, 0) AS transcriptions_failed,
       coalesce(h.exports_generated, 0) AS exports_generated, coalesce(h.exports_csv, 0) AS exports_csv,
       coalesce(h.exports_pdf, 0) AS exports_pdf, coalesce(h.exports_xlsx, 0) AS exports_xlsx,
       coalesce(h.exports_txt, 0) AS exports_txt, coalesce(h.api_calls, 0) AS api_calls,
       coalesce(h.share_links_created, 0) AS share_links_created,
       coalesce(h.share_links_accessed, 0) AS share_links_accessed,
       s.storage_used_mb, coalesce(h.concurrent_sessions_peak, 0) AS concurrent_sessions_peak
FROM account_days AS ad
LEFT JOIN hourly AS h USING (account_id, usage_date)
LEFT JOIN storage_at_day_end AS s USING (account_id, usage_date);
CREATE UNIQUE INDEX ON bench_floor.usage_daily (account_id, usage_date);
CREATE INDEX ON bench_floor.usage_daily (usage_date);

-- step: monthly
CREATE TABLE bench_floor.usage_monthly AS
WITH daily AS (
    SELECT *, cast(date_trunc('month', usage_date) AS date) AS usage_month,
           row_number() OVER (PARTITION BY account_id, date_trunc('month', usage_date)
                              ORDER BY CASE WHEN storage_used_mb IS NULL THEN 1 ELSE 0 END, usage_date DESC)
               AS storage_rank
    FROM bench_floor.usage_daily
)
SELECT account_id, usage_month, sum(sessions_created) AS sessions_created,
       sum(audio_minutes_processed) AS audio_minutes_processed,
       sum(transcriptions_completed) AS transcriptions_completed, sum(transcriptions_failed) AS transcriptions_failed,
       sum(exports_generated) AS exports_generated, sum(exports_csv) AS exports_csv, sum(exports_pdf) AS exports_pdf,
       sum(exports_xlsx) AS exports_xlsx, sum(exports_txt) AS exports_txt, sum(api_calls) AS api_calls,
       sum(share_links_created) AS share_links_created, sum(share_links_accessed) AS share_links_accessed,
       max(CASE WHEN storage_rank = 1 THEN storage_used_mb END) AS storage_used_mb,
       max(concurrent_sessions_peak) AS concurrent_sessions_peak
FROM daily GROUP BY account_id, usage_month;
CREATE UNIQUE INDEX ON bench_floor.usage_monthly (account_id, usage_month);
