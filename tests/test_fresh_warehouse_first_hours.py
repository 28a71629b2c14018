"""A fresh warehouse's first hours: the unpartitioned models build before any day or month exists.

Until the first day ends, `fct_usage_daily` and `fct_usage_monthly` (partitioned tables, created by
their first partition's run) do not exist, yet the hourly `dimensions_job` rebuilds every
unpartitioned model, the report input views among them (dbt_project/models/reports/). They must
build on an empty rollup (macros/usage_rollup.sql) rather than fail the run every hour, which would
alert the operator once per hour of a new deployment's first day; once the daily and monthly
layers have run, the next rebuild reads the tables.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from tests.conftest import reset_warehouse

END = datetime(2026, 3, 10, 3, tzinfo=UTC)


def _relation(conn: psycopg.Connection, name: str) -> str | None:
    return conn.execute("SELECT to_regclass(%s)::text", (name,)).fetchone()[0]


def test_first_hours_build_every_unpartitioned_model_then_the_rollups_fill_them(warehouse_url, dagster_instance):
    from orchestration.definitions import defs
    from orchestration.pipeline import run_layers
    from orchestration.source.simulator import apply_source_schema, simulate_history

    reset_warehouse(warehouse_url)
    with psycopg.connect(warehouse_url) as conn:
        apply_source_schema(conn)
        simulate_history(conn, accounts=15, days=2, seed=5, end=END)
        conn.commit()
    # what the schedule and automation run in a new deployment's first hours: snapshots, then the
    # hourly rebuild of the unpartitioned models; no day has ended, so no daily or monthly run yet
    for job, partition in (("hourly_snapshot_job", "2026-03-10-02:00"), ("dimensions_job", None)):
        result = defs.resolve_job_def(job).execute_in_process(
            instance=dagster_instance, partition_key=partition, raise_on_error=False)
        assert result.success, f"{job} failed on a warehouse without daily or monthly rollups"
    with psycopg.connect(warehouse_url) as conn:
        assert _relation(conn, "marts.fct_usage_daily") is None
        assert conn.execute("SELECT count(*) FROM report_inputs.rpt_usage_summary__usage_daily").fetchone()[0] == 0

    # the day and month complete: the rollups run, and the next rebuild's views read them
    runs = run_layers(defs, dagster_instance, END - timedelta(days=1, hours=3), END + timedelta(days=1))
    assert all(r.success for r in runs), runs
    with psycopg.connect(warehouse_url) as conn:
        daily_rows = conn.execute("SELECT count(*) FROM marts.fct_usage_daily").fetchone()[0]
        view_days = conn.execute(
            "SELECT count(DISTINCT usage_date) FROM report_inputs.rpt_usage_summary__usage_daily").fetchone()[0]
    assert daily_rows > 0 and view_days > 0
