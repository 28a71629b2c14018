"""Row accounting: every source row of an hour is in raw, in quarantine with a reason, or belongs to
an erased account (ops.erased_accounts; stored nowhere on purpose, so counted here explicitly).

Counts, not rows, are compared, for the whole range at once: one grouped pass over the source (its
timestamps only), against what the extraction stored per hour (raw.snapshot_log, counted from raw
and quarantine in the extraction's own transaction, so raw is not scanned again). That keeps the
check cheap on the hourly tick and on a 90-day backfill alike. Only an hour whose counts disagree
has its rows read, to name the ones missing.

The source keeps receiving rows while a run goes on, so both sides are cut at the source clock the
extraction read up to (raw.snapshot_log.source_cutoff, per table and hour): a row recorded later is
the next tick's, not lost; a row recorded before it that the extraction did not get is lost. A
source row updated in place after the extraction (a subscription that ended) no longer matches the
version stored: more rows stored than the source holds is reported but is not a loss; fewer is.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg
from psycopg import sql

from orchestration.snapshots.tables import SnapshotTable
from orchestration.warehouse.connection import connect

MISSING_ROWS_NAMED = 20
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class HourCount:
    hour: datetime
    source: int  # source rows recorded up to the extraction's cutoff
    erased: int  # of those, rows of erased accounts
    stored: int  # raw + quarantine rows recorded up to the cutoff, as the extraction stored them
    raw: int  # all rows loaded into raw, whenever recorded
    quarantined: int  # all rows quarantined

    @property
    def missing(self) -> int:
        """Source rows in neither raw nor quarantine (negative: more stored than the source holds)."""
        return self.source - self.erased - self.stored


@dataclass(frozen=True)
class TableAccounting:
    table: str
    hours: list[HourCount]
    never_extracted: list[datetime]
    missing_rows: list[dict[str, str]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.never_extracted and all(h.missing <= 0 for h in self.hours)


def _logged(warehouse: psycopg.Connection, table: SnapshotTable, start: datetime,
            end: datetime) -> dict[datetime, tuple[datetime, int, int, int | None]]:
    """Per extracted hour: source cutoff, rows loaded, rows quarantined, rows stored by the cutoff."""
    rows = warehouse.execute(
        "SELECT partition_hour, source_cutoff, rows_loaded, rows_quarantined, rows_stored_by_cutoff "
        "FROM raw.snapshot_log WHERE table_name = %s AND partition_hour >= %s AND partition_hour < %s",
        (table.name, start, end)).fetchall()
    return {hour: rest for hour, *rest in rows}


def _source_counts(source: psycopg.Connection, table: SnapshotTable, params: dict) -> dict[datetime, tuple[int, int]]:
    """Per hour: source rows recorded up to that hour's cutoff, and how many are erased accounts'."""
    query = psycopg.ClientCursor(source).mogrify(table.rows_query or table.source_query, params)
    rows = source.execute(
        f"""
        SELECT c.hour, count(*), count(*) FILTER (WHERE q.account_id = ANY(%(erased)s))
        FROM ({query}) q
        JOIN unnest(%(hours)s::timestamptz[], %(cutoffs)s::timestamptz[]) AS c (hour, cutoff)
          ON c.hour = date_trunc('hour', q.partition_at)
        WHERE q.recorded_at <= c.cutoff
        GROUP BY c.hour
        """, params).fetchall()
    return {hour: (n, erased) for hour, n, erased in rows}


def _missing_rows(source: psycopg.Connection, warehouse: psycopg.Connection, table: SnapshotTable,
                  params: dict, hours: list[datetime]) -> list[dict[str, str]]:
    """The source rows of `hours` that neither raw nor quarantine holds, named column by column."""
    cols = ", ".join(table.columns)
    hour_params = {**params, "hours": hours,
                   "cutoffs": [params["cutoffs"][params["hours"].index(h)] for h in hours]}
    query = psycopg.ClientCursor(source).mogrify(table.source_query, params)
    in_source = Counter(source.execute(
        f"""
        SELECT {cols} FROM ({query}) q
        JOIN unnest(%(hours)s::timestamptz[], %(cutoffs)s::timestamptz[]) AS c (hour, cutoff)
          ON c.hour = date_trunc('hour', q.partition_at)
        WHERE q.recorded_at <= c.cutoff AND NOT coalesce(q.account_id = ANY(%(erased)s), false)
        """, hour_params).fetchall())
    stored = Counter()
    for schema, column in (("raw", table.event_time), ("quarantine", "partition_hour")):
        stored.update(warehouse.execute(
            sql.SQL(
                "SELECT {cols} FROM {relation} r "
                "JOIN unnest(%(hours)s::timestamptz[], %(cutoffs)s::timestamptz[]) AS c (hour, cutoff) "
                "ON c.hour = date_trunc('hour', r.{column}) "
                "WHERE r.{column} >= %(start)s AND r.{column} < %(end)s AND r.recorded_at <= c.cutoff"
            ).format(cols=sql.SQL(cols), relation=sql.Identifier(schema, table.name),
                     column=sql.Identifier(column)),
            hour_params).fetchall())
    missing = sorted((in_source - stored).elements(), key=repr)[:MISSING_ROWS_NAMED]
    return [{c: str(v) for c, v in zip(table.columns, row, strict=True)} for row in missing]


def account_rows(source_url: str, warehouse_url: str, tables: list[SnapshotTable], start: datetime,
                 end: datetime) -> list[TableAccounting]:
    """Per table and hour of [start, end): source rows against raw + quarantine + erased.

    An hour with no log of what was stored (never extracted, or extracted before row accounting
    was recorded) cannot be accounted for: it is listed as never extracted.
    """
    results = []
    with connect(source_url) as source, connect(warehouse_url) as warehouse:
        source.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        erased = [a for (a,) in warehouse.execute("SELECT account_id FROM ops.erased_accounts")]
        for table in tables:
            logged = {h: row for h, row in _logged(warehouse, table, start, end).items() if row[3] is not None}
            hours = sorted(logged)
            params = {"start": start, "end": end, "erased": erased, "hours": hours,
                      "cutoffs": [logged[h][0] for h in hours]}
            from_source = _source_counts(source, table, params) if hours else {}
            counts = [HourCount(h, *from_source.get(h, (0, 0)), logged[h][3], logged[h][1], logged[h][2])
                      for h in hours]
            every_hour = (start + i * HOUR for i in range(int((end - start) / HOUR)))
            never_extracted = [h for h in every_hour if h not in logged]
            short = [c.hour for c in counts if c.missing > 0]
            named = _missing_rows(source, warehouse, table, params, short) if short else []
            results.append(TableAccounting(table.name, counts, never_extracted, named))
        source.rollback()
    return results
