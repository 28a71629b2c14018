"""The usage marts, built by real Dagster runs of real dbt on a simulated product, equal an
independent pandas computation from the source tables, and re-runs change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg
import pytest

from tests.usage_expectations import COUNT_METRICS, expected_daily, expected_hourly, read
from tests.warehouse_fixtures import SimulatedHistory, WarehouseBuilder

END = datetime(2026, 3, 5, tzinfo=UTC)
DAYS = 4
HISTORY = SimulatedHistory(accounts=40, days=DAYS, seed=11, end=END, late_rate=0.02, bad_rate=0.01)


@pytest.fixture(scope="module")
def built(build_warehouse: WarehouseBuilder):
    from orchestration.definitions import defs

    build_warehouse.simulated(HISTORY)
    return defs, HISTORY.start


def table_digest(conn: psycopg.Connection, table: str) -> str:
    rows = conn.execute(f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t").fetchone()
    return rows[0] or "empty"


def _compare(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str]) -> None:
    assert len(actual) == len(expected) > 0
    merged = actual.merge(expected, on=keys, how="outer", suffixes=("", "_expected"), indicator=True)
    assert (merged._merge == "both").all(), merged[merged._merge != "both"].head()
    for column in COUNT_METRICS + ["concurrent_sessions_peak"]:
        bad = merged[merged[column].astype("int64") != merged[f"{column}_expected"]]
        assert bad.empty, (column, bad[keys + [column, f"{column}_expected"]].head())
    for column in ("audio_minutes_processed", "storage_used_mb"):
        a = merged[column].astype(float)
        e = merged[f"{column}_expected"].astype(float)
        assert (((a - e).abs() < 1e-6) | (a.isna() & e.isna())).all(), column


def test_hourly_usage_equals_independent_computation(built, db):
    actual = read(db, "SELECT * FROM marts.fct_usage_hourly")
    actual["hour_start"] = pd.to_datetime(actual.hour_start, utc=True)
    _compare(actual, expected_hourly(db), ["account_id", "hour_start"])


def test_daily_and_monthly_usage_equal_independent_computation(built, db):
    _, start = built
    days = list(pd.date_range(start.date(), END.date() - timedelta(days=1), freq="D", tz="UTC"))
    expected = expected_daily(db, expected_hourly(db), days)
    actual = read(db, "SELECT * FROM marts.fct_usage_daily")
    actual["usage_date"] = pd.to_datetime(actual.usage_date).dt.tz_localize("UTC")
    _compare(actual, expected, ["account_id", "usage_date"])

    expected["usage_month"] = expected.usage_date.dt.tz_localize(None).dt.to_period("M").dt.start_time
    ordered = expected.sort_values("usage_date")
    monthly = ordered.groupby(["account_id", "usage_month"]).agg(
        **{m: (m, "sum") for m in COUNT_METRICS + ["audio_minutes_processed"]},
        concurrent_sessions_peak=("concurrent_sessions_peak", "max"),
        storage_used_mb=("storage_used_mb", "last"),
    ).reset_index()
    actual_monthly = read(db, "SELECT * FROM marts.fct_usage_monthly")
    actual_monthly["usage_month"] = pd.to_datetime(actual_monthly.usage_month)
    _compare(actual_monthly, monthly, ["account_id", "usage_month"])


def test_bad_rows_are_quarantined_with_a_reason(built, db):
    reasons = dict(db.execute(
        "SELECT reason, count(*) FROM quarantine.sessions GROUP BY 1 "
        "UNION ALL SELECT reason, count(*) FROM quarantine.usage_events GROUP BY 1"
    ).fetchall())
    assert reasons, "the simulated bad rows should be quarantined"
    assert {"duplicate", "unknown_account"} <= set(reasons), reasons
    # nothing is lost: every source row is either in raw or in quarantine
    source = db.execute("SELECT count(*) FROM app.sessions").fetchone()[0]
    landed = db.execute(
        "SELECT (SELECT count(*) FROM raw.sessions) + (SELECT count(*) FROM quarantine.sessions)"
    ).fetchone()[0]
    assert landed == source


def test_rerunning_a_partition_and_a_range_changes_nothing(built, db, dagster_instance):
    defs, start = built
    tables = ["raw.sessions", "raw.usage_events", "raw.account_state_hourly", "quarantine.sessions",
              "marts.fct_usage_hourly", "marts.fct_usage_daily", "marts.fct_usage_monthly"]
    before = {t: table_digest(db, t) for t in tables}
    from orchestration.pipeline import run_layers

    assert defs.resolve_job_def("hourly_snapshot_job").execute_in_process(
        partition_key="2026-03-02-10:00", instance=dagster_instance).success
    assert defs.resolve_job_def("daily_rollup_job").execute_in_process(
        partition_key="2026-03-02", instance=dagster_instance).success
    assert {t: table_digest(db, t) for t in tables} == before
    runs = run_layers(defs, dagster_instance, datetime(2026, 3, 2, tzinfo=UTC),
                      datetime(2026, 3, 4, tzinfo=UTC))
    assert all(r.success for r in runs)
    assert {t: table_digest(db, t) for t in tables} == before


def test_range_backfill_equals_partition_by_partition(built, db, dagster_instance):
    """Rebuild a busy stretch hour by hour, after wiping it, and compare with the range build."""
    defs, _ = built
    tables = ["raw.sessions", "raw.usage_events", "raw.account_state_hourly",
              "marts.fct_usage_hourly"]
    before = {t: table_digest(db, t) for t in tables}
    window = "'2026-03-03 14:00+00' AND '2026-03-03 18:00+00'"
    db.execute(f"DELETE FROM raw.sessions WHERE started_at >= {window.replace(' AND', ' AND started_at <')}")
    db.execute(f"DELETE FROM marts.fct_usage_hourly WHERE hour_start >= {window.replace(' AND', ' AND hour_start <')}")
    assert {t: table_digest(db, t) for t in tables} != before
    job = defs.resolve_job_def("hourly_snapshot_job")
    for hour in range(14, 18):
        assert job.execute_in_process(partition_key=f"2026-03-03-{hour:02d}:00",
                                      instance=dagster_instance).success
    assert {t: table_digest(db, t) for t in tables} == before
