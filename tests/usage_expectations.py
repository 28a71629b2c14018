"""An independent pandas computation of the usage marts from the source tables (app.*).

Written from the metric definitions in docs/metrics.md, not from the dbt SQL: it applies the
quarantine rules itself, attributes session metrics to the start hour, sweeps overlapping
sessions for the concurrency peak, and reads storage from the hour-end meter readings.
"""

from __future__ import annotations

import pandas as pd
import psycopg

FUTURE = pd.Timedelta(minutes=5)
COUNT_METRICS = [
    "sessions_created", "transcriptions_completed", "transcriptions_failed", "exports_generated",
    "exports_csv", "exports_pdf", "exports_xlsx", "exports_txt", "api_calls",
    "share_links_created", "share_links_accessed",
]


def read(conn: psycopg.Connection, query: str, params: tuple = ()) -> pd.DataFrame:
    cur = conn.execute(query, params or None)
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def valid_sessions(conn: psycopg.Connection) -> pd.DataFrame:
    s = read(conn, "SELECT * FROM app.sessions")
    known = set(read(conn, "SELECT account_id FROM app.accounts").account_id)
    for c in ("started_at", "ended_at", "recorded_at"):
        s[c] = pd.to_datetime(s[c], utc=True)
    ok = (
        s.account_id.notna() & s.started_at.notna() & (s.started_at <= s.recorded_at + FUTURE)
        & s.account_id.isin(known) & s.session_id.notna() & s.ended_at.notna()
        & (s.ended_at >= s.started_at) & (s.ended_at - s.started_at <= pd.Timedelta(hours=24))
        & s.audio_minutes.notna() & s.audio_file_size_mb.notna()
        & (s.audio_minutes.astype(float) >= 0) & (s.audio_file_size_mb.astype(float) >= 0)
        & s.transcription_status.isin(["completed", "failed"])
    )
    s = s[ok].sort_values(["session_id", "recorded_at"]).drop_duplicates("session_id")
    s["account_id"] = s.account_id.astype("int64")
    s["audio_minutes"] = s.audio_minutes.astype(float)
    return s


def valid_events(conn: psycopg.Connection) -> pd.DataFrame:
    e = read(conn, "SELECT * FROM app.usage_events")
    known = set(read(conn, "SELECT account_id FROM app.accounts").account_id)
    for c in ("occurred_at", "recorded_at"):
        e[c] = pd.to_datetime(e[c], utc=True)
    ok = (
        e.account_id.notna() & e.occurred_at.notna() & (e.occurred_at <= e.recorded_at + FUTURE)
        & e.account_id.isin(known) & e.event_id.notna() & e.quantity.notna()
        & (e.quantity.fillna(0) >= 0)
        & e.event_type.isin(["api_call", "export", "share_link_created", "share_link_accessed",
                             "limit_reached"])
        & ((e.event_type != "export") | e.export_format.isin(["csv", "pdf", "xlsx", "txt"]))
    )
    e = e[ok].sort_values(["event_id", "recorded_at"]).drop_duplicates("event_id")
    e["account_id"] = e.account_id.astype("int64")
    e["quantity"] = e.quantity.astype("int64")
    return e


def hour_end_storage(conn: psycopg.Connection) -> pd.DataFrame:
    r = read(conn, "SELECT * FROM app.storage_readings")
    known = set(read(conn, "SELECT account_id FROM app.accounts").account_id)
    for c in ("measured_at", "recorded_at"):
        r[c] = pd.to_datetime(r[c], utc=True)
    ok = (
        r.account_id.notna() & r.measured_at.notna() & (r.measured_at <= r.recorded_at + FUTURE)
        & r.account_id.isin(known) & r.storage_used_mb.notna()
        & (r.storage_used_mb.astype(float) >= 0)
    )
    r = r[ok].copy()
    r["hour_start"] = (r.measured_at - pd.Timedelta(microseconds=1)).dt.floor("h")
    r = r.sort_values(["account_id", "hour_start", "recorded_at"]).drop_duplicates(["account_id", "hour_start"])
    r["account_id"] = r.account_id.astype("int64")
    r["storage_used_mb"] = r.storage_used_mb.astype(float)
    return r[["account_id", "hour_start", "storage_used_mb"]]


def concurrency_peaks(sessions: pd.DataFrame) -> pd.DataFrame:
    """Peak overlapping sessions per account-hour by brute force over each hour's boundaries."""
    rows = []
    for account_id, group in sessions.groupby("account_id"):
        intervals = list(zip(group.started_at, group.ended_at))
        hours = set()
        for start, end in intervals:
            hour = start.floor("h")
            while hour < end:
                hours.add(hour)
                hour += pd.Timedelta(hours=1)
        for hour in hours:
            hour_end = hour + pd.Timedelta(hours=1)
            clipped = [(max(s, hour), min(e, hour_end)) for s, e in intervals if s < hour_end and e > hour]
            clipped = [(s, e) for s, e in clipped if e > s]
            # the peak is reached at some segment start: count segments covering each start
            peak = max((sum(1 for s2, e2 in clipped if s2 <= s < e2) for s, _ in clipped), default=0)
            if peak:
                rows.append((account_id, hour, peak))
    return pd.DataFrame(rows, columns=["account_id", "hour_start", "concurrent_sessions_peak"])


def expected_hourly(conn: psycopg.Connection) -> pd.DataFrame:
    s = valid_sessions(conn)
    e = valid_events(conn)
    s["hour_start"] = s.started_at.dt.floor("h")
    sess = s.groupby(["account_id", "hour_start"]).agg(
        sessions_created=("session_id", "size"),
        audio_minutes_processed=("audio_minutes", "sum"),
        transcriptions_completed=("transcription_status", lambda x: int((x == "completed").sum())),
        transcriptions_failed=("transcription_status", lambda x: int((x == "failed").sum())),
    )
    e["hour_start"] = e.occurred_at.dt.floor("h")
    e["metric"] = e.event_type.map({
        "api_call": "api_calls", "share_link_created": "share_links_created",
        "share_link_accessed": "share_links_accessed", "export": "exports_generated",
        "limit_reached": "limits_reached",  # no metric counts it, but it is activity: a row
    })
    ev = e.pivot_table(index=["account_id", "hour_start"], columns="metric", values="quantity",
                       aggfunc="sum", fill_value=0)
    exports = e[e.event_type == "export"].assign(metric="exports_" + e.export_format)
    ex = exports.pivot_table(index=["account_id", "hour_start"], columns="metric",
                             values="quantity", aggfunc="sum", fill_value=0)
    peaks = concurrency_peaks(s).set_index(["account_id", "hour_start"])
    out = sess.join(ev, how="outer").join(ex, how="outer").join(peaks, how="outer").fillna(0)
    for column in COUNT_METRICS + ["concurrent_sessions_peak"]:
        if column not in out:
            out[column] = 0
        out[column] = out[column].astype("int64")
    out = out.reset_index().merge(hour_end_storage(conn), on=["account_id", "hour_start"], how="left")
    return out


def expected_daily(conn: psycopg.Connection, hourly: pd.DataFrame, days: list[pd.Timestamp]) -> pd.DataFrame:
    """Every account signed up by each day's end, with its day totals and day-end storage."""
    accounts = read(conn, "SELECT account_id, signup_at FROM app.accounts")
    accounts["signup_at"] = pd.to_datetime(accounts.signup_at, utc=True)
    grid = pd.DataFrame(
        [(a, d) for d in days for a, signup in zip(accounts.account_id, accounts.signup_at)
         if signup < d + pd.Timedelta(days=1)],
        columns=["account_id", "usage_date"],
    )
    h = hourly.assign(usage_date=hourly.hour_start.dt.floor("D"))
    sums = h.groupby(["account_id", "usage_date"])[COUNT_METRICS + ["audio_minutes_processed"]].sum()
    peaks = h.groupby(["account_id", "usage_date"]).concurrent_sessions_peak.max()
    storage = hour_end_storage(conn).assign(usage_date=lambda f: f.hour_start.dt.floor("D"))
    storage = storage.sort_values("hour_start").groupby(["account_id", "usage_date"]).storage_used_mb.last()
    out = grid.merge(sums.join(peaks).reset_index(), how="left", on=["account_id", "usage_date"])
    out = out.merge(storage.reset_index(), how="left", on=["account_id", "usage_date"])
    out[COUNT_METRICS + ["concurrent_sessions_peak"]] = (
        out[COUNT_METRICS + ["concurrent_sessions_peak"]].fillna(0).astype("int64")
    )
    out["audio_minutes_processed"] = out.audio_minutes_processed.fillna(0.0)
    return out
