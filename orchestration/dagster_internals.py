"""Every use the platform makes of Dagster and dagster-dbt beyond their documented (public) API.

Dagster's public API (the members its API reference documents, marked `@public` in its source) has
no way yet to read a check's evaluation history, a run's events, the pid of a run's process, or to
fail a run from outside it; dagster-dbt's resource has no switch for the two fixed costs it pays on
every dbt invocation. Those reads and writes live here, each behind a function named for what the
platform needs, so an upgrade of the pinned versions (pyproject.toml) breaks in this one module,
and tests/test_dagster_internals.py shows what broke. Each docstring says what public API would
replace the function. Everything else in the code location uses the public API only.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import dagster as dg
from dagster_dbt import DbtCliResource
from packaging import version


@dataclass(frozen=True)
class RecordedCheckEvaluation:
    """A check's evaluation as the instance recorded it: the result, when, and by which run."""

    evaluation: dg.AssetCheckEvaluation
    timestamp: float
    run_id: str


@dataclass(frozen=True)
class StepError:
    """One link of a failed step's error chain: the exception's class name and message."""

    cls_name: str | None
    message: str


def check_evaluations_in_run(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetCheckEvaluation]:
    """Every asset-check evaluation a run recorded (passed or failed), in the order recorded.

    Why internal: reading a run's events takes `DagsterInstance.get_records_for_run` and the
    evaluation inside an event `EventLogEntry.asset_check_evaluation`, neither documented.
    Public replacement: a documented per-run event query, or check evaluations on
    `RunFailureSensorContext` (which only offers the step failures).
    """
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    return [e for r in records if (e := r.event_log_entry.asset_check_evaluation) is not None]


def latest_check_evaluation(instance: dg.DagsterInstance, key: dg.AssetCheckKey,
                            partition: str | None = None) -> RecordedCheckEvaluation | None:
    """The newest evaluation of check `key` that completed (passed or failed), for `partition` when
    given; None when it was never evaluated (planned evaluations that never ran do not count).

    Why internal: check history is only in the event log storage
    (`get_asset_check_execution_history`, with a status and a partition filter, so the database
    finds the row however many partitions were checked since). `DagsterInstance.
    get_latest_asset_check_evaluation_record` is undocumented too, and has no partition filter.
    Public replacement: an `instance.fetch_asset_check_evaluations(...)` beside
    `fetch_materializations`.
    """
    from dagster._core.event_api import PartitionKeyFilter
    from dagster._core.storage.asset_check_execution_record import COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES

    records = instance.event_log_storage.get_asset_check_execution_history(
        key, limit=1, status=COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES,
        partition_filter=PartitionKeyFilter(key=partition) if partition is not None else None)
    if not records or records[0].event is None or records[0].event.asset_check_evaluation is None:
        return None
    record = records[0]
    return RecordedCheckEvaluation(record.event.asset_check_evaluation, record.event.timestamp, record.run_id)


def step_failure_errors(event: dg.DagsterEvent) -> list[StepError]:
    """A STEP_FAILURE event's error and the errors that caused it, outermost first ([] if none).

    Why internal: the error sits in `DagsterEvent.event_specific_data` (`StepFailureData.error`), which
    the API reference leaves out, although `RunFailureSensorContext.get_step_failure_events`'s own
    docstring reads it. Public replacement: a documented error accessor on `DagsterEvent`.
    """
    error = event.step_failure_data.error if event.event_type == dg.DagsterEventType.STEP_FAILURE else None
    chain: list[StepError] = []
    while error is not None:
        chain.append(StepError(error.cls_name, error.message))
        error = error.cause
    return chain


def run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid of the process that started the run (on its RUN_START event), None before it started.

    Why internal: run records do not hold the worker's pid; only the run's events do
    (`get_records_for_run`, `DagsterEvent.pid`). Public replacement: none needed with a run launcher
    that checks its workers' health (the Kubernetes one): see `launcher_watches_run`.
    """
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_START, limit=1).records
    return records[0].event_log_entry.dagster_event.pid if records else None


def launcher_watches_run(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Whether Dagster's own run monitoring can see this run's worker die: the instance's run launcher
    checks worker health and the run was launched from a code location (not executed in-process).

    Why internal: `DagsterInstance.run_launcher`, `RunLauncher.supports_check_run_worker_health` and
    `DagsterRun.remote_job_origin` are undocumented. Public replacement: none.
    """
    return instance.run_launcher.supports_check_run_worker_health and run.remote_job_origin is not None


def mark_run_failed(instance: dg.DagsterInstance, run: dg.DagsterRun, message: str) -> None:
    """Record the run as failed (a RUN_FAILURE event with `message`) and free the pool slots it held.

    Freeing the slots now lets runs queued behind a dead process proceed at once rather than after
    the daemon's `free_slots_after_run_end_seconds`.
    Why internal: `DagsterInstance.report_run_failed` and the event log storage's concurrency calls are
    undocumented. Public replacement: a documented "mark run failed" (the UI and GraphQL have one).
    """
    instance.report_run_failed(run, message)
    if instance.event_log_storage.supports_global_concurrency_limits:
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


def initialize_pool_limits(instance: dg.DagsterInstance, pools: Iterable[str]) -> None:
    """Create each pool's limit row (at the instance's default limit) now, if missing.

    Why internal: the event log storage's `initialize_concurrency_limit_to_default` is undocumented.
    Public replacement: `dagster instance concurrency set <pool> <limit>` sets a fixed limit, which
    would stop following `concurrency: pools: default_limit` in dagster.yaml.
    """
    for pool in pools:
        instance.event_log_storage.initialize_concurrency_limit_to_default(pool)


@contextmanager
def dagster_clock_at(moment: datetime) -> Iterator[None]:
    """Dagster's clock (what its freshness checks call "now") reads `moment` inside the block.

    Used by tests that evaluate deadline checks at chosen times. Why internal: Dagster's own
    `dagster._core.test_utils.freeze_time`. Public replacement: none (the checks take no clock).
    """
    from dagster._core.test_utils import freeze_time

    with freeze_time(moment):
        yield


class InstalledDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource without two fixed costs it pays on every dbt invocation.

    - It learns the dbt version by running `dbt --version` in a subprocess (about 1.2 s: each
      hourly tick, each backfill layer). dbt-core is installed in this environment
      (pyproject.toml), so its package metadata has the same answer.
    - It loads the project's macros into an in-process dbt adapter (about 0.6 s), used only to
      fetch row counts and column metadata, which the platform's dbt assets do not ask for.
    Why internal: both replace private members of `DbtCliResource` (`_cli_version`,
    `_initialize_dbt_core_adapter`); dagster-dbt has no setting for either. Public replacement: a
    resource field for a known dbt version and one to skip the adapter.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return dbt_core_version()

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


def dbt_core_version() -> version.Version:
    """The installed dbt-core's version, from its package metadata."""
    return version.parse(importlib.metadata.version("dbt-core"))



def forget_disposed_defs_state_storage() -> bool:
    """Stop using a definitions-state storage whose instance has been disposed; True if one was dropped.

    Why internal: entering a DagsterInstance (`with instance:`) makes its definitions-state storage the
    current one (a ContextVar in `dagster._core.storage.defs_state.base`) and leaving restores the one
    before. A process that opens and closes many instances with overlapping lifetimes (a test session:
    fixtures of several scopes, each test its own instance) can be left with the storage of an instance
    already gone, and every later load of a `Definitions` (`dg.materialize`, `resolve_job_def`) then fails
    with "Attempted to resolve undefined DagsterInstance weakref". Without a current storage Dagster reads
    no definitions state, as for an ephemeral instance. Public replacement: none (the storage is set only
    by entering an instance); long-lived processes (daemon, code server, CLI) hold one instance and never
    meet this.
    """
    from dagster._core.storage.defs_state.base import DefsStateStorage, _current_storage

    storage = DefsStateStorage.get()
    reference = getattr(storage, "_instance_weakref", None) if storage is not None else None
    if storage is None or (reference is not None and reference() is not None):
        return False
    _current_storage.set(None)
    return True
