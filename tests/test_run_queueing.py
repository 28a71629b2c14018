"""Two runs for the same hour started together both succeed (issue 12, reproduction 7).

Each run executes in its own process, as two `usage-analytics backfill` commands (or a schedule tick
and a UI re-execution) would, released at the same instant. On the instance `make` writes, the
concurrency pools (orchestration/defs/pools.py) make the second snapshot wait for the first; on an
instance without pool limits the warehouse advisory lock does. The runs execute the hourly job's
snapshot (where the collisions were: raw.accounts' unique key); its dbt step is in a pool the same
way, and each of dbt's layers too (checked from the definitions, not by running dbt twice).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from orchestration.dagster_instance import instance_yaml
from orchestration.defs.alerts import operator_alert_on_run_failure
from orchestration.defs.dbt_models import dbt_daily_models, dbt_foundation_models, dbt_hourly_models, dbt_monthly_models
from orchestration.defs.pools import POOLS, RAW_SNAPSHOT_POOL, dbt_pool, initialize_pools, warehouse_lock
from orchestration.defs.snapshots import hourly_source_snapshot
from tests.conftest import reset_warehouse
from tests.dagster_storage import fresh_storage_url
from tests.handmade_source import add_session, seed_accounts

HOUR = "2026-03-11-10:00"
SNAPSHOT_STEP = "hourly_source_snapshot"

CHILD_RUN = """
import sys, time
from pathlib import Path
import dagster as dg
from orchestration.definitions import defs
from orchestration.defs.snapshots import hourly_source_snapshot

ready, go = Path(sys.argv[2]), Path(sys.argv[3])
job = defs.resolve_job_def("hourly_snapshot_job")
snapshot = {key for key in hourly_source_snapshot.keys if key.path[0] == "raw"}
job = job.get_subset(asset_selection=snapshot, asset_check_selection=set())  # the snapshot step alone
ready.touch()
while not go.exists():
    time.sleep(0.01)
result = job.execute_in_process(instance=dg.DagsterInstance.get(), partition_key=sys.argv[1], raise_on_error=False)
sys.exit(0 if result.success else 1)
"""


@pytest.fixture(scope="module")
def source(warehouse_url: str) -> str:
    reset_warehouse(warehouse_url)
    with psycopg.connect(warehouse_url) as conn:
        seed_accounts(conn, signup="2026-03-11 10:15+00")  # both accounts sign up in HOUR
        add_session(conn, 1, 1, "2026-03-11 10:20+00", "2026-03-11 10:40+00")
        add_session(conn, 2, 2, "2026-03-11 10:30+00", "2026-03-11 10:50+00")
        conn.commit()
    return warehouse_url


def run_twice_at_once(home: Path, tmp_path: Path) -> list[int]:
    """Exit codes of two runs of the hourly job for HOUR, released together."""
    go = tmp_path / "go"
    children = []
    for n in range(2):
        ready = tmp_path / f"ready_{n}"
        children.append((ready, subprocess.Popen([sys.executable, "-c", CHILD_RUN, HOUR, str(ready), str(go)],
                                                 env={**os.environ, "DAGSTER_HOME": str(home)})))
    deadline = time.monotonic() + 300
    while not all(ready.exists() for ready, _ in children):
        assert all(child.poll() is None for _, child in children), "a run ended before the start"
        assert time.monotonic() < deadline, "the runs did not get ready"
        time.sleep(0.1)
    go.touch()
    return [child.wait(timeout=600) for _, child in children]


def snapshot_step_spans(instance: dg.DagsterInstance) -> list[tuple[float, float]]:
    spans = []
    for run in instance.get_runs():
        events = instance.get_records_for_run(run.run_id).records
        times = [r.event_log_entry.timestamp for r in events
                 if r.event_log_entry.step_key == SNAPSHOT_STEP and r.event_log_entry.dagster_event
                 and r.event_log_entry.dagster_event.event_type in (dg.DagsterEventType.STEP_START,
                                                                   dg.DagsterEventType.STEP_SUCCESS)]
        spans.append((min(times), max(times)))
    return sorted(spans)


def raw_rows(url: str) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM raw.accounts), (SELECT count(DISTINCT account_id) FROM raw.accounts), "
            "(SELECT count(*) FROM raw.sessions)").fetchone()


@pytest.fixture()
def make_instance_home(warehouse_url: str, tmp_path: Path) -> Path:
    """DAGSTER_HOME configured as `make instance` does: PostgreSQL storage (a fresh database on the
    test server; its row locks are what makes a pool slot one process's at a time), run monitoring
    and pool limits."""
    storage = fresh_storage_url(warehouse_url, "dagster")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml(storage))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        initialize_pools(instance)  # as `make instance` does
    return home


def test_two_runs_for_the_same_hour_both_succeed(source, make_instance_home, tmp_path):
    home = make_instance_home
    with dg.DagsterInstance.from_config(str(home)) as instance:
        cursor = operator_alert_on_run_failure.evaluate_tick(dg.build_sensor_context(instance=instance)).cursor

        assert run_twice_at_once(home, tmp_path) == [0, 0]

        assert [run.status for run in instance.get_runs()] == [dg.DagsterRunStatus.SUCCESS] * 2
        assert raw_rows(source) == (2, 2, 2)  # the second run replaced the window, nothing doubled
        first, second = snapshot_step_spans(instance)  # the pool held one step until the other finished
        assert first[1] <= second[0]
        operator_alert_on_run_failure.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))
    with psycopg.connect(source) as conn:  # no failure, so the failure sensor recorded no incident
        assert conn.execute("SELECT count(*) FROM reports.alert_incidents").fetchone()[0] == 0



def test_every_warehouse_writer_is_in_a_pool():
    assert hourly_source_snapshot.op.pool == RAW_SNAPSHOT_POOL
    for layer, models in [("foundation", dbt_foundation_models), ("hourly", dbt_hourly_models),
                          ("daily", dbt_daily_models), ("monthly", dbt_monthly_models)]:
        assert models.op.pool == dbt_pool(layer)
    pools_used = {hourly_source_snapshot.op.pool} | {models.op.pool for models in (
        dbt_foundation_models, dbt_hourly_models, dbt_daily_models, dbt_monthly_models)}
    assert pools_used == set(POOLS)  # every pool is initialized by `make instance`


def test_without_pool_limits_the_advisory_lock_makes_the_second_writer_wait(warehouse_url):
    """The belt for an instance without `concurrency:` config: a second holder waits for the first."""
    order = []

    def second_writer() -> None:
        with warehouse_lock(warehouse_url, "test_pool"):
            order.append("second")

    with warehouse_lock(warehouse_url, "test_pool"), psycopg.connect(warehouse_url, autocommit=True) as conn:
        waiter = threading.Thread(target=second_writer)
        waiter.start()
        deadline = time.monotonic() + 60
        while not conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                               ).fetchone()[0]:
            assert time.monotonic() < deadline, "the second writer never asked for the lock"
            time.sleep(0.05)
        order.append("first")
    waiter.join(timeout=60)
    assert order == ["first", "second"]
