"""The hourly schedule: snapshot the newest complete hour plus any hour that received late rows.

See orchestration/snapshots/late_data.py for the mechanism. The run covers one contiguous
window, passed as a partition range so it executes as a single run.
"""

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


def hourly_tick_request(
    scheduled: datetime, warehouse_url: str, source_url: str, lookback_hours: int
) -> dg.RunRequest:
    newest_hour = scheduled.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    newest_hour -= timedelta(hours=1)
    with connect(source_url) as source, connect(warehouse_url) as warehouse:
        stale = find_stale_hours(source, warehouse, newest_hour, lookback_hours)
    start, end = range_to_extract(stale, newest_hour)
    first = hourly_partitions.start.astimezone(UTC)
    start = max(start, first)
    return hourly_range_run_request(start, end, run_key=f"hourly:{newest_hour.isoformat()}")


@dg.schedule(
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    job=hourly_snapshot_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def hourly_snapshot_schedule(
    context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource, source: SourceResource
) -> dg.RunRequest:
    return hourly_tick_request(
        context.scheduled_execution_time,
        warehouse.url,
        source.url,
        get_settings().late_data_lookback_hours,
    )
