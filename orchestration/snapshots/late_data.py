"""Which hour partitions must be (re-)extracted for the source to be counted exactly once.

The mechanism: every extraction logs, per table and hour, the source clock it read up to
(raw.snapshot_log.source_cutoff). A source row recorded after that cutoff for an hour it belongs
to is late: that hour is stale. The hourly schedule re-extracts, in one run, the contiguous range
from the oldest stale or never-extracted hour within the look-back to the newest complete hour.
Because every partition write replaces its window, a late row is then counted exactly once, and
hours between are simply rebuilt to the same result. A contiguous range also rebuilds the hours
that a late long session overlaps after its start hour.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

import psycopg

from orchestration.snapshots.tables import HOURLY_SNAPSHOT_TABLES

HOUR = timedelta(hours=1)


def stale_hours(
    hours: Iterable[datetime],
    cutoffs: Mapping[tuple[str, datetime], datetime],
    latest_recorded: Mapping[tuple[str, datetime], datetime],
    tables: Iterable[str],
) -> list[datetime]:
    """Hours never extracted for some table, or holding rows recorded after their cutoff."""
    tables = list(tables)
    stale = set()
    for hour in hours:
        for table in tables:
            cutoff = cutoffs.get((table, hour))
            recorded = latest_recorded.get((table, hour))
            if cutoff is None or (recorded is not None and recorded > cutoff):
                stale.add(hour)
                break
    return sorted(stale)


def range_to_extract(stale: list[datetime], newest_hour: datetime) -> tuple[datetime, datetime]:
    """The one window [start, end) a tick extracts: from the oldest stale hour to the newest."""
    start = min([*stale, newest_hour])
    return start, newest_hour + HOUR


def find_stale_hours(
    source: psycopg.Connection,
    warehouse: psycopg.Connection,
    newest_hour: datetime,
    lookback_hours: int,
) -> list[datetime]:
    """Stale hours in the look-back window ending with `newest_hour` (inclusive)."""
    first_hour = newest_hour - lookback_hours * HOUR
    end = newest_hour + HOUR
    hours = [first_hour + i * HOUR for i in range(lookback_hours + 1)]
    cutoffs = {
        (table, hour): cutoff
        for table, hour, cutoff in warehouse.execute(
            "SELECT table_name, partition_hour, source_cutoff FROM raw.snapshot_log "
            "WHERE partition_hour >= %s AND partition_hour < %s",
            (first_hour, end),
        )
    }
    if not cutoffs:
        return hours  # nothing extracted yet: every hour is due, no need to scan the source
    since = min(cutoffs.values())
    latest: dict[tuple[str, datetime], datetime] = {}
    for table in HOURLY_SNAPSHOT_TABLES:
        query = psycopg.ClientCursor(source).mogrify(
            table.source_query, {"start": first_hour, "end": end}
        )
        rows = source.execute(
            f"SELECT date_trunc('hour', partition_at), max(recorded_at) FROM ({query}) AS q "
            "WHERE recorded_at > %s GROUP BY 1",
            (since,),
        )
        latest.update({(table.name, hour): recorded for hour, recorded in rows})
    return stale_hours(hours, cutoffs, latest, [t.name for t in HOURLY_SNAPSHOT_TABLES])
