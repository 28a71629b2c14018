"""The hourly schedule: snapshot the newest complete hour plus any hour that received late rows
or that a failed run left half-built.

Late rows: see orchestration/snapshots/late_data.py. Failed runs: a run killed (or failing) after
its extraction committed but before fct_usage_hourly was rebuilt leaves hours that late-data
detection sees as extracted, so the next tick also re-runs every hour of a failed hourly run in the
look-back that no later successful run covered. The run covers one contiguous window, passed as a
partition range so it executes as a single run.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import dagster as dg

from orchestration.defs.jobs import hourly_snapshot_job
from orchestration.defs.partitions import hourly_partitions
from orchestration.defs.resources import SourceResource, WarehouseResource
from orchestration.settings import get_settings
from orchestration.snapshots.late_data import find_stale_hours, range_to_extract
from orchestration.warehouse.connection import connect

HOURLY_KEY_FORMAT = "%Y-%m-%d-%H:%M"


def hourly_range_run_request(start: datetime, end: datetime, run_key: str | None) -> dg.RunRequest:
    """A run of the hourly job over the hours [start, end)."""
    return dg.RunRequest(
        run_key=run_key,
        tags={
            "dagster/asset_partition_range_start": start.strftime(HOURLY_KEY_FORMAT),
            "dagster/asset_partition_range_end": (end - timedelta(hours=1)).strftime(HOURLY_KEY_FORMAT),
        },
    )


def run_hours(tags: dict[str, str]) -> list[datetime]:
    """The hour partitions a run of the hourly job covered, from its range or partition tag."""
    first = tags.get("dagster/asset_partition_range_start") or tags.get("dagster/partition")
    last = tags.get("dagster/asset_partition_range_end") or first
    if not first:
        return []
    start, end = (datetime.strptime(k, HOURLY_KEY_FORMAT).replace(tzinfo=UTC) for k in (first, last))
    return [start + i * timedelta(hours=1) for i in range(int((end - start) / timedelta(hours=1)) + 1)]


def unhealed_hours(runs: Iterable[tuple[bool, dict[str, str]]]) -> set[datetime]:
    """Hours of failed runs that no later successful run covered; `runs` (succeeded, tags) oldest first."""
    left: set[datetime] = set()
    for succeeded, tags in runs:
        hours = run_hours(tags)
        if succeeded:
            left.difference_update(hours)
        else:
            left.update(hours)
    return left


def hours_left_by_failed_runs(
    instance: dg.DagsterInstance, first_hour: datetime, newest_hour: datetime
) -> list[datetime]:
    """Hours in [first_hour, newest_hour] of hourly runs that failed (run monitoring fails dead ones)
    since first_hour and were not covered by a later successful run."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(
            job_name=hourly_snapshot_job.name,
            statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE],
            updated_after=first_hour,
        ),
    )
    runs = sorted(records, key=lambda r: r.create_timestamp)
    left = unhealed_hours((r.dagster_run.status == dg.DagsterRunStatus.SUCCESS, r.dagster_run.tags) for r in runs)
    return sorted(h for h in left if first_hour <= h <= newest_hour)


def hourly_tick_request(
    scheduled: datetime, warehouse_url: str, source_url: str, lookback_hours: int,
    instance: dg.DagsterInstance,
) -> dg.RunRequest:
    newest_hour = scheduled.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    newest_hour -= timedelta(hours=1)
    with connect(source_url) as source, connect(warehouse_url) as warehouse:
        stale = find_stale_hours(source, warehouse, newest_hour, lookback_hours)
    stale += hours_left_by_failed_runs(instance, newest_hour - lookback_hours * timedelta(hours=1), newest_hour)
    start, end = range_to_extract(stale, newest_hour)
    first = hourly_partitions.start.astimezone(UTC)
    start = max(start, first)
    return hourly_range_run_request(start, end, run_key=f"hourly:{newest_hour.isoformat()}")


@dg.schedule(
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    job=hourly_snapshot_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Production: at :05 every hour, snapshot the newest complete hour of the source, plus any "
                "hour that received late rows (LATE_DATA_LOOKBACK_HOURS) or that a failed run left half-built. "
                "`make demo` backfilled the history itself; this keeps the simulated source's new hours current.",
)
def hourly_snapshot_schedule(
    context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource, source: SourceResource
) -> dg.RunRequest:
    return hourly_tick_request(
        context.scheduled_execution_time,
        warehouse.url,
        source.url,
        get_settings().late_data_lookback_hours,
        context.instance,
    )
