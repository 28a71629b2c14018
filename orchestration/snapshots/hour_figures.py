"""Each raw table's own figures per hour of a snapshot window, for that hour's partition page.

A range run extracts many hours in one pass; its totals say nothing about one hour. The
extraction records every hour's loaded and quarantined rows in raw.snapshot_log (in its own
transaction), and quarantined rows keep their hour and reason, so one grouped read per table gives
each hour's figures without counting raw again.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from psycopg import sql

from orchestration.snapshots.tables import HOURLY_SNAPSHOT_TABLES
from orchestration.warehouse.connection import connect


@dataclass(frozen=True)
class HourFigures:
    rows_loaded: int
    rows_quarantined: int
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)


def hour_figures(warehouse_url: str, start: datetime, end: datetime) -> dict[tuple[str, datetime], HourFigures]:
    """(table, hour) -> the rows that hour's extraction stored, for every hour of [start, end) logged."""
    window = {"start": start, "end": end}
    with connect(warehouse_url) as conn:
        reasons: dict[tuple[str, datetime], dict[str, int]] = defaultdict(dict)
        for table in HOURLY_SNAPSHOT_TABLES:
            for hour, reason, count in conn.execute(
                sql.SQL("SELECT partition_hour, reason, count(*) FROM {} WHERE partition_hour >= %(start)s "
                        "AND partition_hour < %(end)s GROUP BY 1, 2 ORDER BY 1, 2")
                .format(sql.Identifier("quarantine", table.name)), window):
                reasons[table.name, hour][reason] = count
        return {
            (table, hour): HourFigures(loaded, quarantined, reasons.get((table, hour), {}))
            for table, hour, loaded, quarantined in conn.execute(
                "SELECT table_name, partition_hour, rows_loaded, rows_quarantined FROM raw.snapshot_log "
                "WHERE partition_hour >= %(start)s AND partition_hour < %(end)s", window)
        }
