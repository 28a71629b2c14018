"""A small simulated warehouse with every report materialized through Dagster, for report tests.

40 accounts over 40 days ending 2026-03-10: February is a complete month, the ISO week of
2026-02-16 a complete week with a signup (the simulated accounts sign up over the year before,
so most weeks have none) and 2026-03-09 a complete day. One account on a plan gets a hostile
name (formula start, path separators, quotes, markup, several scripts, over 300 characters) in
the source, so it travels through snapshots and dbt like any other name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import psycopg

from tests.warehouse_fixtures import SimulatedHistory, build_simulated_warehouse

END = pd.Timestamp("2026-03-10", tz="UTC").to_pydatetime()
DAYS = 40
PERIODS = {"monthly": "2026-02-01", "weekly": "2026-02-16", "daily": "2026-03-09"}  # the week has a signup
HOSTILE_NAME = ("=cmd|' /C calc'!A1 ../../etc/passwd \\ \"Quoted\" 'single' <b>Zoë</b> 東京 Ünïcødé "
                + "ж" * 300)
HISTORY = SimulatedHistory(accounts=40, days=DAYS, seed=5, end=END)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass(frozen=True)
class BuiltReports:
    url: str
    artifacts_dir: Path
    hostile_account_id: int
    seconds: dict[str, float]


def give_hostile_name(conn: psycopg.Connection) -> int:
    """HOSTILE_NAME for the account with the most February sessions among those on a plan at March 1st."""
    hostile = conn.execute(
        "SELECT s.account_id FROM app.subscriptions s JOIN app.sessions x ON x.account_id = s.account_id"
        " WHERE s.started_at < '2026-03-01' AND (s.ended_at IS NULL OR s.ended_at > '2026-03-01')"
        " AND x.started_at >= '2026-02-01' AND x.started_at < '2026-03-01'"
        " GROUP BY s.account_id ORDER BY count(*) DESC, s.account_id LIMIT 1").fetchone()[0]
    conn.execute("UPDATE app.accounts SET account_name = %s WHERE account_id = %s", (HOSTILE_NAME, hostile))
    return hostile


def materialize_report(defs: dg.Definitions, instance: dg.DagsterInstance, report_id: str, schedule: str,
                       partition: str) -> dg.ExecuteInProcessResult:
    from orchestration.defs.reports import report_artifacts_key, report_input_key

    job = defs.resolve_job_def(f"reports_{schedule}_job")
    return job.execute_in_process(
        instance=instance, partition_key=partition, run_config=QUIET,
        asset_selection=[report_input_key(report_id), report_artifacts_key(report_id)])


def build_reports(url: str, instance: dg.DagsterInstance, artifacts_dir: Path) -> BuiltReports:
    import time

    from orchestration.definitions import defs
    from reports.catalogue import load_catalogue

    hostile = build_simulated_warehouse(url, instance, HISTORY, give_hostile_name)
    projections = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, run_config=QUIET, asset_selection=[dg.AssetKey(["ml", "limit_projections"])])
    assert projections.success
    seconds = {}
    for spec in load_catalogue().values():
        began = time.perf_counter()
        result = materialize_report(defs, instance, spec.id, spec.schedule, PERIODS[spec.schedule])
        seconds[spec.id] = time.perf_counter() - began
        assert result.success, spec.id
    return BuiltReports(url, artifacts_dir, hostile, seconds)
