"""Turning what the schedules and the automation request into runs, as the daemon would.

A schedule's RunRequest runs its job with the request's tags and partition. The automation returns
asset partitions; the AutomationConditionSensor launches them as runs of the implicit asset job,
one per partitions definition and contiguous range of partitions (all partitioned assets here
have a single-run backfill policy), unpartitioned assets in one run. Runs execute in this process
on the soak's persistent instance, except one chosen to be killed: it runs in a child process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import dagster as dg

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@dataclass(frozen=True)
class RunRecord:
    simulated_at: str
    origin: str  # schedule or sensor name
    job: str
    partitions: str | None
    run_id: str | None
    success: bool
    seconds: float


@dataclass(frozen=True)
class PlannedRun:
    """One run to launch: a job (or the implicit asset job over `assets`) with its tags."""

    job: str
    tags: dict[str, str]
    assets: tuple[dg.AssetKey, ...] | None = None

    @property
    def partitions(self) -> str | None:
        if RANGE_START in self.tags:
            return f"{self.tags[RANGE_START]}..{self.tags[RANGE_END]}"
        return self.tags.get("dagster/partition")


def from_run_request(job: str, request: dg.RunRequest, origin_tag: tuple[str, str]) -> PlannedRun:
    tags = {**request.tags, origin_tag[0]: origin_tag[1]}
    if request.run_key:
        tags["dagster/run_key"] = request.run_key
    if request.partition_key:
        tags["dagster/partition"] = request.partition_key
    return PlannedRun(job, tags)


def _contiguous(keys: list[str], partitions_def: dg.PartitionsDefinition, at: datetime) -> list[tuple[str, str]]:
    with dg.partition_loading_context(effective_dt=at):
        order = {k: i for i, k in enumerate(partitions_def.get_partition_keys())}
    ranges: list[tuple[str, str]] = []
    for key in sorted(keys, key=order.__getitem__):
        if ranges and order[key] == order[ranges[-1][1]] + 1:
            ranges[-1] = (ranges[-1][0], key)
        else:
            ranges.append((key, key))
    return ranges


def from_automation(defs: dg.Definitions, result, at: datetime) -> list[PlannedRun]:
    """The runs the AutomationConditionSensor would launch for one evaluation's requests."""
    graph = defs.resolve_asset_graph()
    groups: dict[tuple, list[dg.AssetKey]] = defaultdict(list)
    for key in graph.get_all_asset_keys():
        partitions = result.get_requested_partitions(key)
        if partitions:
            node = graph.get(key)
            groups[(node.partitions_def, frozenset(partitions))].append(key)
    runs = []
    # finer partitions first: a daily rollup reads hours, a monthly one days, unpartitioned marts both
    for (partitions_def, keys), assets in sorted(groups.items(), key=lambda item: _span(*item[0])):
        job = defs.resolve_implicit_job_def_def_for_assets(assets).name
        base = {"dagster/automation_condition": "true"}
        if partitions_def is None:
            runs.append(PlannedRun(job, base, tuple(assets)))
            continue
        for first, last in _contiguous([k for k in keys if k is not None], partitions_def, at):
            tags = {**base, RANGE_START: first, RANGE_END: last} if first != last else {
                **base, "dagster/partition": first}
            runs.append(PlannedRun(job, tags, tuple(assets)))
    return runs


def _span(partitions_def: dg.PartitionsDefinition | None, keys: frozenset) -> float:
    """How long one partition lasts, in seconds (unpartitioned: forever)."""
    if not isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        return float("inf")
    window = partitions_def.time_window_for_partition_key(next(iter(keys)))
    return (window.end - window.start).total_seconds()


def execute(defs: dg.Definitions, instance: dg.DagsterInstance, run: PlannedRun) -> tuple[str | None, bool]:
    """Run in this process; (run id, success)."""
    job = defs.resolve_job_def(run.job) if run.assets is None else defs.resolve_implicit_job_def_def_for_assets(
        run.assets)
    partition = run.tags.get("dagster/partition")
    tags = {k: v for k, v in run.tags.items() if k != "dagster/partition"}
    result = job.execute_in_process(
        instance=instance, tags=tags, partition_key=partition, raise_on_error=False, run_config=QUIET,
        asset_selection=list(run.assets) if run.assets else None)
    return result.run_id, result.success


def execute_and_kill(instance: dg.DagsterInstance, run: PlannedRun, kill_at_step: str,
                     timeout_seconds: float = 600) -> str | None:
    """Run in a child process (its own process group) and SIGKILL the group once `kill_at_step`
    started; the run is then left STARTED in the instance, as after a node failure.
    Returns the run id, or None if the child finished before the step was reached."""
    before = {r.run_id for r in instance.get_runs()}
    child = subprocess.Popen([sys.executable, "-m", "soak.child_run", json.dumps(
        {"job": run.job, "tags": run.tags})], start_new_session=True, env=os.environ.copy())
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline and child.poll() is None:
        new = [r for r in instance.get_runs(limit=5) if r.run_id not in before]
        if new and any(e.step_key and kill_at_step in e.step_key and
                       e.dagster_event_type == dg.DagsterEventType.STEP_START
                       for e in instance.all_logs(new[0].run_id, of_type=dg.DagsterEventType.STEP_START)):
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            return new[0].run_id
        time.sleep(0.2)
    if child.poll() is None:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    return None
