"""The hourly job on the production instance configuration, deploy/dagster.yaml (issue 17).

The instance is deploy/dagster.yaml as committed: its PostgreSQL storage (`{env: DAGSTER_POSTGRES_URL}`)
points at a fresh database on the test server, with its queued run coordinator, run-queue tag limits,
pools, run monitoring and run retries. One thing is swapped: the Kubernetes run launcher, which needs a
cluster, for Dagster's default launcher (each run a process on this machine, started by the code server).
A real `dagster-daemon` runs the queue, the sensors and the retries; runs are submitted with
`dagster job launch`, as an operator would (the UI submits the same way).

One scenario, each step setting up the next:
1. run A for an hour takes the raw_snapshot pool; its snapshot then waits on the warehouse lock the test
   holds, so A stays in progress;
2. run B for the same hour (same pool) stays queued behind A;
3. run C, a daily rollup (another partition, another pool), leaves the queue and succeeds meanwhile;
4. A's worker process is killed: A is marked failed, saying why (the code server that launched it sees
   its process end; a worker gone without that is failed by the dead-run sensor), run monitoring frees
   its pool slot, the run-failure alert records it once, and run_retries launches A again;
5. B then proceeds and succeeds, and so does A's retry; raw holds each source row once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import dagster as dg
import psutil
import psycopg
import pytest
import yaml

from orchestration.dagster_instance import EVENT_SETTINGS
from orchestration.defs.jobs import RUN_QUEUE_TAG
from orchestration.defs.pools import RAW_SNAPSHOT_POOL, initialize_pools, warehouse_lock
from orchestration.settings import PROJECT_ROOT
from tests import test_run_queueing
from tests.dagster_storage import fresh_storage_url
from tests.test_run_queueing import HOUR, SNAPSHOT_STEP, raw_rows

# The hand-made source of the run-queueing tests: two accounts signing up, two sessions, all in HOUR.
source = test_run_queueing.source

PRODUCTION_YAML = PROJECT_ROOT / "deploy" / "dagster.yaml"
WORKSPACE = PROJECT_ROOT / "workspace.yaml"
BIN = Path(sys.executable).parent
EARLIER_HOUR = "2026-03-11-09:00"
OTHER_DAY = "2026-03-10"
# Loaded code locations and dbt processes on a shared 2-core machine: generous, the test waits for states.
TIMEOUT = 600
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}


def production_instance_yaml() -> str:
    """deploy/dagster.yaml with the Kubernetes launcher swapped for Dagster's default one, nothing else."""
    config = yaml.safe_load(PRODUCTION_YAML.read_text())
    assert config["run_launcher"]["class"] == "K8sRunLauncher"
    config["run_launcher"] = {"module": "dagster", "class": "DefaultRunLauncher"}
    return yaml.safe_dump(config, sort_keys=False)


@pytest.fixture()
def production_env(warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of every Dagster process of the deployment (daemon, code server, runs, CLI)."""
    storage = fresh_storage_url(warehouse_url, "production_dagster")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(production_instance_yaml())
    settings = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_POSTGRES_URL": storage,
        # a deployment names its source; the same database here, and no demo simulator schedule
        "SOURCE_URL": warehouse_url,
        "ARTIFACTS_DIR": str(tmp_path / "artifacts"),
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OPERATOR_EMAIL", raising=False)  # alerts are recorded, not mailed
    with dg.DagsterInstance.from_config(str(home)) as instance:
        initialize_pools(instance)  # what `python -m orchestration.dagster_instance` does once per deployment
    return {**EVENT_SETTINGS, **os.environ}


@contextmanager
def process_group(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A command in its own process group, ended with everything it started (code server, run workers)."""
    with log.open("ab") as out:
        process = subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        yield process
    finally:
        for sig, grace in ((signal.SIGTERM, 60), (signal.SIGKILL, 30)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue


def submit(env: dict[str, str], log: Path, *runs: tuple[str, str]) -> list[str]:
    """Submit runs of (job, partition) to the queue with the dagster CLI, concurrently; their run ids.

    Each run executes its steps in its worker process (the in-process executor) rather than one process
    per step: what is tested (queue, pools, a dead worker, retries) is the same, and every step process
    would load the code location again, a minute apiece on the loaded shared machine.
    """
    run_ids = [str(uuid.uuid4()) for _ in runs]
    with ExitStack() as stack:
        clis = [stack.enter_context(process_group(
            [str(BIN / "dagster"), "job", "launch", "-w", str(WORKSPACE), "-j", job,
             "--tags", json.dumps({"dagster/partition": partition}), "--run-id", run_id,
             "--config-json", json.dumps(IN_PROCESS)], env, log))
            for (job, partition), run_id in zip(runs, run_ids)]
        for cli in clis:
            assert cli.wait(timeout=TIMEOUT) == 0, log.read_text()[-3000:]
    return run_ids


def wait_for_run(instance: dg.DagsterInstance, run_id: str, statuses: set[dg.DagsterRunStatus], log: Path,
                 what: str) -> dg.DagsterRun:
    deadline = time.monotonic() + TIMEOUT
    while True:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status in statuses:
            return run
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: run is {run.status if run else 'missing'}\n{log.read_text()[-5000:]}")
        time.sleep(1)


def waiting_for_advisory_lock(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())").fetchone()[0]


def step_start_time(instance: dg.DagsterInstance, run_id: str, step: str) -> float | None:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START).records
    times = [r.event_log_entry.timestamp for r in records if r.event_log_entry.step_key == step]
    return min(times) if times else None


def run_end_time(instance: dg.DagsterInstance, run_id: str) -> float:
    record = instance.get_run_records(filters=dg.RunsFilter(run_ids=[run_id]))[0]
    return record.end_time


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> int:
    """The process executing the run: the pid on its RUN_START event."""
    (start,) = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_START).records
    return start.event_log_entry.dagster_event.pid


def kill_worker(pid: int) -> None:
    """The run worker and any process it started, all at once, as when its pod dies."""
    worker = psutil.Process(pid)
    for process in [*worker.children(recursive=True), worker]:
        with suppress(psutil.NoSuchProcess):
            process.kill()


def retry_of(instance: dg.DagsterInstance, run_id: str, log: Path) -> str:
    deadline = time.monotonic() + TIMEOUT
    while not (retries := instance.get_runs(filters=dg.RunsFilter(tags={"dagster/parent_run_id": run_id}))):
        if time.monotonic() > deadline:
            pytest.fail(f"no retry of {run_id}\n{log.read_text()[-5000:]}")
        time.sleep(1)
    return retries[0].run_id


def alert_incidents(url: str, run_id: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT status, occurrences FROM reports.alert_incidents WHERE incident_key LIKE %s",
                            (f"run-failure:%:{run_id}",)).fetchall()


def test_the_hourly_job_queues_proceeds_and_recovers_on_the_production_instance(source, production_env,
                                                                                tmp_path):
    env, log = production_env, tmp_path / "deployment.log"
    from orchestration.definitions import defs

    with dg.DagsterInstance.get() as instance, ExitStack() as lock:
        assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
        # the hourly mart exists before the daily rollup reads it, as in any running deployment
        assert defs.resolve_job_def("hourly_snapshot_job").execute_in_process(
            instance=instance, partition_key=EARLIER_HOUR, raise_on_error=False).success

        lock.enter_context(warehouse_lock(source, RAW_SNAPSHOT_POOL))  # A's snapshot will wait on it
        [run_a] = submit(env, log, ("hourly_snapshot_job", HOUR))  # first in the queue
        run_b, run_c = submit(env, log, ("hourly_snapshot_job", HOUR), ("daily_rollup_job", OTHER_DAY))
        for run_id in (run_a, run_b, run_c):
            run = instance.get_run_by_id(run_id)
            assert (run.status, run.tags[RUN_QUEUE_TAG]) == (dg.DagsterRunStatus.QUEUED, "dbt")

        with process_group([str(BIN / "dagster-daemon"), "run", "-w", str(WORKSPACE)], env, log):
            wait_for_run(instance, run_a, {dg.DagsterRunStatus.STARTED}, log, "A starts")
            deadline = time.monotonic() + TIMEOUT
            while not waiting_for_advisory_lock(source):  # A's snapshot holds the pool slot, waits on the lock
                assert time.monotonic() < deadline, log.read_text()[-5000:]
                time.sleep(1)

            # another partition, in another pool, proceeds while A holds raw_snapshot; B waits in the queue
            wait_for_run(instance, run_c, {dg.DagsterRunStatus.SUCCESS}, log, "C succeeds")
            assert instance.get_run_by_id(run_a).status == dg.DagsterRunStatus.STARTED
            assert instance.get_run_by_id(run_b).status == dg.DagsterRunStatus.QUEUED

            pid = worker_pid(instance, run_a)
            kill_worker(pid)
            lock.close()
            wait_for_run(instance, run_a, {dg.DagsterRunStatus.FAILURE}, log, "A is marked failed")
            said = [r.event_log_entry.dagster_event.message or "" for r in instance.get_records_for_run(run_a).records
                    if r.event_log_entry.dagster_event]
            assert any("terminated by signal 9 (SIGKILL)" in m or f"(pid {pid}) is gone" in m for m in said), said

            # B left the queue only once A's slot was freed, and succeeded; so did A's retry
            wait_for_run(instance, run_b, {dg.DagsterRunStatus.SUCCESS}, log, "B succeeds")
            assert step_start_time(instance, run_b, SNAPSHOT_STEP) > run_end_time(instance, run_a)
            retry = retry_of(instance, run_a, log)
            wait_for_run(instance, retry, {dg.DagsterRunStatus.SUCCESS}, log, "A's retry succeeds")

            deadline = time.monotonic() + TIMEOUT
            while not alert_incidents(source, run_a):  # the run-failure sensor's next tick
                assert time.monotonic() < deadline, log.read_text()[-5000:]
                time.sleep(2)
            assert alert_incidents(source, run_a) == [("unaddressed", 1)]  # once; OPERATOR_EMAIL is unset

    assert raw_rows(source) == (2, 2, 2)  # three runs wrote the hour: each source row is in raw once
