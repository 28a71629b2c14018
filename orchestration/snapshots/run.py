"""One snapshot run: every hourly table for a window of whole hours, atomically.

The source is read in one REPEATABLE READ transaction so all tables describe the same instant,
and the warehouse is written in one transaction so a crash leaves every window as it was.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from orchestration.settings import get_settings
from orchestration.snapshots.extract import (
    ExtractResult,
    extract_window,
    record_snapshot_log,
    replace_plans,
)
from orchestration.snapshots.tables import HOURLY_SNAPSHOT_TABLES
from orchestration.warehouse.connection import connect


def snapshot_window(
    source_url: str, warehouse_url: str, start: datetime, end: datetime
) -> list[ExtractResult]:
    """Extract [start, end) of every hourly table; return per-table results."""
    if start >= end:
        raise ValueError(f"empty snapshot window: start {start} is not before end {end}")
    with connect(source_url) as source, connect(warehouse_url) as warehouse:
        source.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        # An erasure (orchestration/operations/erasure.py) waits for this run to commit, and a run
        # starting during an erasure waits for it: no run can re-load rows it is deleting.
        warehouse.execute("LOCK TABLE ops.erased_accounts IN SHARE MODE")
        erased = [row[0] for row in warehouse.execute("SELECT account_id FROM ops.erased_accounts")]
        # Rows recorded just before the source clock may still be committing: the cutoff is set
        # back by a margin so that late-data detection looks at them again on the next tick.
        margin = get_settings().snapshot_commit_margin_seconds
        cutoff = source.execute(
            "SELECT now() - make_interval(secs => %s)", (margin,)
        ).fetchone()[0]
        results = []
        for table in HOURLY_SNAPSHOT_TABLES:
            results.append(extract_window(source, warehouse, table, start, end, erased))
            record_snapshot_log(warehouse, table, start, end, cutoff)
        warehouse.commit()
        source.rollback()
    return results


def newest_snapshot_end(warehouse_url: str) -> datetime | None:
    """The end of the newest hour any snapshot has extracted: how recent raw data is."""
    with connect(warehouse_url) as warehouse:
        newest = warehouse.execute("SELECT max(partition_hour) FROM raw.snapshot_log").fetchone()[0]
    return newest + timedelta(hours=1) if newest else None


def snapshot_plans(source_url: str, warehouse_url: str) -> int:
    """Replace raw.plans with the source's current catalogue; return its row count."""
    with connect(source_url) as source, connect(warehouse_url) as warehouse:
        plans = replace_plans(source, warehouse)
        warehouse.commit()
    return plans
