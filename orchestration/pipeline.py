"""Run the asset layers for a time range through Dagster, as the UI's backfills would.

Each layer runs as one Dagster run over its whole range (single-run backfill), in dependency
order: hourly snapshots and fct_usage_hourly, daily rollups, monthly rollups, then the
unpartitioned marts (plan catalogue, dimensions, business marts).
Runs are recorded in the Dagster instance (DAGSTER_HOME), so they appear in the UI's history.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TextIO

import dagster as dg

from orchestration.defs.schedules import HOURLY_KEY_FORMAT

HOUR = timedelta(hours=1)

# The last asset the hourly layer writes: if its partition is materialized, the whole layer ran
# for that hour (the layer's assets materialize in one run).
HOURLY_OUTPUT = dg.AssetKey(["marts", "fct_usage_hourly"])


@dataclass(frozen=True)
class LayerRun:
    job: str
    first_partition: str | None
    last_partition: str | None
    seconds: float
    success: bool


def _days(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    first = start.replace(hour=0, minute=0, second=0, microsecond=0)
    last = (end - HOUR).replace(hour=0, minute=0, second=0, microsecond=0)
    return first, last


def _months(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    first, last = _days(start, end)
    return first.replace(day=1), last.replace(day=1)


def complete_periods(start: datetime, end: datetime) -> dict[str, tuple[str, str] | None]:
    """Partition key ranges per job for the hours [start, end); only periods that have ended.

    A day (month) is rebuilt when any of its hours is in the range, but only once it is complete,
    matching the partitions' end_offset of 0.
    """
    now = datetime.now(UTC)
    ranges: dict[str, tuple[str, str] | None] = {
        "hourly_snapshot_job": (start.strftime(HOURLY_KEY_FORMAT), (end - HOUR).strftime(HOURLY_KEY_FORMAT)),
    }
    first_day, last_day = _days(start, end)
    if last_day + timedelta(days=1) > now:
        last_day -= timedelta(days=1)
    ranges["daily_rollup_job"] = (
        (first_day.strftime("%Y-%m-%d"), last_day.strftime("%Y-%m-%d")) if last_day >= first_day else None
    )
    first_month, last_month = _months(start, end)
    next_month = (last_month + timedelta(days=32)).replace(day=1)
    if next_month > now:
        last_month = (last_month - timedelta(days=1)).replace(day=1)
    ranges["monthly_rollup_job"] = (
        (first_month.strftime("%Y-%m-%d"), last_month.strftime("%Y-%m-%d"))
        if last_month >= first_month else None
    )
    return ranges


def _heal_hourly(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    key_range: tuple[str, str],
    full_range: tuple[str, str],
) -> tuple[str, str]:
    """Widen the hourly range back to its oldest hour in `full_range` never materialized.

    A run whose snapshot succeeded but whose hourly rollup failed leaves hours that late-data
    detection does not see as stale (they were extracted); re-running picks them up here.
    """
    partitions = defs.resolve_job_def("hourly_snapshot_job").partitions_def
    keys = partitions.get_partition_keys_in_range(dg.PartitionKeyRange(*full_range))
    done = instance.get_materialized_partitions(HOURLY_OUTPUT)
    missing = [k for k in keys if k not in done]
    return (min(missing[0], key_range[0]), key_range[1]) if missing else key_range


def run_layers(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    start: datetime,
    end: datetime,
    log_level: str = "WARNING",
    heal_since: datetime | None = None,
    on_layer: Callable[[int, int, LayerRun], None] | None = None,
    stdout: TextIO | None = None,
) -> list[LayerRun]:
    """Materialize every layer for the hours [start, end); stop at the first failed run.

    With `heal_since`, the hourly layer also re-runs from its oldest hour since then that was
    never materialized, and the daily and monthly layers (cheap: one set-based pass) rebuild
    every period since then, so repeating a failed or interrupted command completes it.
    `on_layer(done, planned, layer)` is called as each layer finishes (the CLI's progress bar).
    The console shows warnings and errors only: a range run emits one event per partition and
    asset, which at DEBUG level buries the summary. The full log is in the Dagster instance.
    dagster-dbt writes every dbt event to sys.stdout whatever the log level: `stdout` (e.g. a log
    file) takes them instead, while `on_layer` still prints to the terminal.
    """
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    ranges = complete_periods(start, end)
    if heal_since is not None:
        full = complete_periods(min(heal_since, start), end)
        ranges = {
            **full,
            "hourly_snapshot_job": _heal_hourly(
                defs, instance, ranges["hourly_snapshot_job"], full["hourly_snapshot_job"]),
        }
    plan: list[tuple[str, tuple[str, str] | None]] = [
        ("hourly_snapshot_job", ranges["hourly_snapshot_job"]),
        ("daily_rollup_job", ranges["daily_rollup_job"]),
        ("monthly_rollup_job", ranges["monthly_rollup_job"]),
        # last: unpartitioned marts read the daily and monthly rollups
        ("dimensions_job", None),
    ]
    plan = [(job, key_range) for job, key_range in plan if job == "dimensions_job" or key_range is not None]
    results = []
    for job_name, key_range in plan:
        tags = {}
        if key_range:
            tags = {
                "dagster/asset_partition_range_start": key_range[0],
                "dagster/asset_partition_range_end": key_range[1],
            }
        began = time.perf_counter()
        with contextlib.redirect_stdout(stdout) if stdout is not None else contextlib.nullcontext():
            result = defs.resolve_job_def(job_name).execute_in_process(
                instance=instance, tags=tags, raise_on_error=False, run_config=run_config
            )
        results.append(
            LayerRun(job_name, key_range and key_range[0], key_range and key_range[1],
                     time.perf_counter() - began, result.success)
        )
        if on_layer:
            on_layer(len(results), len(plan), results[-1])
        if not result.success:
            break
    return results
