"""orchestration/dagster_internals.py against the Dagster and dagster-dbt versions installed: each
function on a real instance with the storage the platform runs on (PostgreSQL, configured as `make
instance` configures it), so an upgrade that moves an internal fails here, by name."""

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from orchestration.dagster_instance import instance_yaml
from orchestration.dagster_internals import (
    InstalledDbtCliResource,
    check_evaluations_in_run,
    dagster_clock_at,
    dbt_core_version,
    forget_disposed_defs_state_storage,
    initialize_pool_limits,
    latest_check_evaluation,
    launcher_watches_run,
    mark_run_failed,
    run_worker_pid,
    step_failure_errors,
)
from orchestration.dbt_project import dbt_project, installed_dbt
from tests.dagster_storage import fresh_storage_url

POOL = "internals_test_pool"
PARTS = dg.StaticPartitionsDefinition(["good", "bad", "never"])


@pytest.fixture()
def home(warehouse_url: str, tmp_path: Path) -> Path:
    """A DAGSTER_HOME as `make instance` writes it, on a fresh storage database of the test server."""
    storage = fresh_storage_url(warehouse_url, "internals")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml(storage))
    return home


@pytest.fixture()
def instance(home: Path):
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


@dg.asset(partitions_def=PARTS)
def numbers() -> int:
    return 1


@dg.asset_check(asset=numbers, partitions_def=PARTS)
def named_good(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    passed = context.partition_key == "good"
    return dg.AssetCheckResult(passed=passed, description=f"partition {context.partition_key}")


def test_check_evaluations_of_a_run_and_the_latest_per_partition(instance):
    runs = {}
    for partition in ("good", "bad"):
        result = dg.materialize([numbers, named_good], instance=instance, partition_key=partition)
        assert result.success  # the check is not blocking
        runs[partition] = result.run_id
    key = dg.AssetCheckKey(numbers.key, "named_good")

    (evaluation,) = check_evaluations_in_run(instance, runs["bad"])
    assert (evaluation.asset_check_key, evaluation.partition, evaluation.passed) == (key, "bad", False)

    good, bad = latest_check_evaluation(instance, key, "good"), latest_check_evaluation(instance, key, "bad")
    assert (good.evaluation.passed, good.run_id) == (True, runs["good"])
    assert (bad.evaluation.passed, bad.evaluation.description, bad.run_id) == (False, "partition bad", runs["bad"])
    materialized = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=numbers.key, asset_partitions=["bad"]), limit=1).records[0]
    assert bad.timestamp >= materialized.timestamp
    assert latest_check_evaluation(instance, key, "never") is None
    assert latest_check_evaluation(instance, key).run_id == runs["bad"]  # any partition: the newest


def test_step_failure_errors_are_the_error_and_its_causes(instance):
    @dg.op
    def fails():
        try:
            {}["missing"]
        except KeyError as exc:
            raise ValueError("the outer error") from exc

    @dg.job
    def failing():
        fails()

    result = failing.execute_in_process(instance=instance, raise_on_error=False)
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    errors = step_failure_errors(failure)
    # Dagster wraps the op's error; the wrapper's causes are the op's error and its own cause
    assert [e.cls_name for e in errors] == ["DagsterExecutionStepExecutionError", "ValueError", "KeyError"]
    assert 'op "fails"' in errors[0].message and "the outer error" in errors[1].message
    run_failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    assert step_failure_errors(run_failure) == []


CHILD_RUN = f"""
import sys, time
from pathlib import Path
import dagster as dg

@dg.op(pool="{POOL}")
def hold_the_pool():
    Path(sys.argv[1]).touch()
    time.sleep(600)

@dg.job
def holding():
    hold_the_pool()

holding.execute_in_process(instance=dg.DagsterInstance.get())
"""


def test_a_killed_run_is_found_by_its_pid_and_failed_with_its_pool_slot_freed(instance, home, tmp_path):
    initialize_pool_limits(instance, [POOL])
    assert instance.event_log_storage.get_concurrency_info(POOL).slot_count == 1  # dagster.yaml's default_limit
    started = tmp_path / "started"
    child = subprocess.Popen([sys.executable, "-c", CHILD_RUN, str(started)],
                             env={**os.environ, "DAGSTER_HOME": str(home)})
    deadline = time.monotonic() + 180
    while not started.exists():
        assert child.poll() is None and time.monotonic() < deadline, "the child run did not start its step"
        time.sleep(0.2)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    (run,) = instance.get_runs()
    assert run.status == dg.DagsterRunStatus.STARTED
    assert run_worker_pid(instance, run.run_id) == child.pid
    assert not launcher_watches_run(instance, run)  # executed in-process: no launcher watches it
    assert instance.event_log_storage.get_concurrency_info(POOL).claimed_slots  # the dead process holds it
    mark_run_failed(instance, run, "its process was killed")
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert not instance.event_log_storage.get_concurrency_info(POOL).claimed_slots


def test_dagster_clock_at_moves_the_freshness_checks_clock(instance):
    @dg.asset
    def hourly() -> int:
        return 1

    (check,) = dg.build_last_update_freshness_checks(assets=[hourly], lower_bound_delta=timedelta(hours=2))
    instance.report_runless_asset_event(dg.AssetMaterialization(hourly.key))
    checks_job = dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(check))
    job = dg.Definitions(assets=[hourly], asset_checks=[check], jobs=[checks_job]).resolve_job_def("freshness")
    now = datetime.now(UTC)
    outcomes = []
    for moment in (now + timedelta(hours=1), now + timedelta(hours=3)):
        with dagster_clock_at(moment):
            result = job.execute_in_process(instance=instance)
        outcomes.append([e.passed for e in result.get_asset_check_evaluations()])
    assert outcomes == [[True], [False]]


def test_the_dbt_resource_reports_the_installed_dbt_and_runs_dbt(tmp_path):
    reported = subprocess.run([installed_dbt(), "--version"], capture_output=True, text=True, check=True).stdout
    assert str(dbt_core_version()) in reported
    dbt = InstalledDbtCliResource(project_dir=dbt_project, dbt_executable=installed_dbt())
    assert dbt.cli(["parse", "--quiet"], target_path=tmp_path / "target").wait().is_successful()
    assert (tmp_path / "target" / "manifest.json").exists()


def test_a_disposed_instances_state_storage_is_forgotten(tmp_path: Path):
    """Instances left in overlapping order leave the first one's storage current after it is gone."""
    import gc

    from dagster._core.storage.defs_state.base import DefsStateStorage

    (tmp_path / "short").mkdir()
    (tmp_path / "long").mkdir()
    short_lived = dg.DagsterInstance.local_temp(tempdir=str(tmp_path / "short"))
    long_lived = dg.DagsterInstance.local_temp(tempdir=str(tmp_path / "long"))
    short_lived.__enter__()
    long_lived.__enter__()  # entered while the short-lived one is current: it restores it on leaving
    short_lived.__exit__(None, None, None)
    long_lived.__exit__(None, None, None)
    del short_lived
    gc.collect()
    assert DefsStateStorage.get() is not None  # the disposed instance's storage, current again
    assert forget_disposed_defs_state_storage()
    assert DefsStateStorage.get() is None
    assert not forget_disposed_defs_state_storage()

    @dg.asset
    def one() -> int:
        return 1

    assert dg.materialize([one], instance=long_lived).success
