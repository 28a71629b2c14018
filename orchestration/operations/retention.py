"""Purge raw telemetry and quarantined rows older than the retention period, once rolled up.

What is purged: the hour-grain telemetry in raw (sessions, usage events, hourly account state)
and every quarantine table, for whole UTC days older than RETENTION_DAYS (default 90) that are
rolled up: the day has rows in marts.fct_usage_daily and, if raw holds sessions or usage events
of the day, in intermediate.int_account_activity_days (the activity the customer marts are
rebuilt from; a day without activity has no rows there). A day that is due but not rolled up
yet is held back, never lost. Kept: raw.accounts and raw.subscriptions (entities the marts need whole),
raw.invoices (financial records, kept for accounting), raw.plans and raw.snapshot_log.
Each run deletes in one transaction and records what it removed in ops.retention_runs; a second
run on the same day removes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg import sql

from orchestration.warehouse.connection import connect

# (table, column placing a row in its hour); quarantine tables are all filed by partition_hour.
RAW_TELEMETRY = (
    ("sessions", "started_at"),
    ("usage_events", "occurred_at"),
    ("account_state_hourly", "hour_start"),
)
ROLLUP = "marts.fct_usage_daily"
ACTIVITY_ROLLUP = "intermediate.int_account_activity_days"
ACTIVITY_SOURCES = (("raw", "sessions", "started_at"), ("raw", "usage_events", "occurred_at"))


@dataclass(frozen=True)
class RetentionReport:
    retention_days: int
    cutoff: datetime
    days_purged: int
    days_held_back: int
    removed: dict[str, int] = field(default_factory=dict)

    @property
    def rows_removed(self) -> int:
        return sum(self.removed.values())


def retention_cutoff(now: datetime, retention_days: int) -> datetime:
    """Midnight UTC `retention_days` days before today: rows before it are due."""
    if retention_days < 1:
        raise ValueError(f"RETENTION_DAYS must be at least 1, got {retention_days}")
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=retention_days)


def split_due_days(due: set[date], rolled_up: set[date]) -> tuple[list[date], list[date]]:
    """Due days that may be purged (rolled up) and those held back, each sorted."""
    return sorted(due & rolled_up), sorted(due - rolled_up)


def day_ranges(days: list[date]) -> list[tuple[datetime, datetime]]:
    """Consecutive days merged into [start, end) UTC ranges, so a purge is a few range deletes."""
    ranges: list[tuple[datetime, datetime]] = []
    for day in sorted(days):
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if ranges and ranges[-1][1] == start:
            ranges[-1] = (ranges[-1][0], start + timedelta(days=1))
        else:
            ranges.append((start, start + timedelta(days=1)))
    return ranges


def _quarantine_tables(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'quarantine' "
        "AND table_type = 'BASE TABLE' ORDER BY 1")]


def _targets(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    return [("raw", t, c) for t, c in RAW_TELEMETRY] + [
        ("quarantine", t, "partition_hour") for t in _quarantine_tables(conn)]


def _due_days(conn: psycopg.Connection, targets: list[tuple[str, str, str]], cutoff: datetime) -> set[date]:
    union = sql.SQL(" UNION ").join(
        sql.SQL("SELECT DISTINCT ({col} AT TIME ZONE 'UTC')::date FROM {tbl} WHERE {col} < %(cutoff)s").format(
            col=sql.Identifier(column), tbl=sql.Identifier(schema, table))
        for schema, table, column in targets
    )
    return {r[0] for r in conn.execute(union, {"cutoff": cutoff})}


def _days_in(conn: psycopg.Connection, table: str, column: str, cutoff: datetime) -> set[date]:
    if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
        return set()
    return {r[0] for r in conn.execute(
        f"SELECT DISTINCT {column} FROM {table} WHERE {column} < %s", (cutoff.date(),))}


def _rolled_up_days(conn: psycopg.Connection, cutoff: datetime) -> set[date]:
    """Due days in the usage rollup whose activity (if raw has any) is in the activity rollup."""
    usage = _days_in(conn, ROLLUP, "usage_date", cutoff)
    activity = _days_in(conn, ACTIVITY_ROLLUP, "activity_date", cutoff)
    raw_active = _due_days(conn, list(ACTIVITY_SOURCES), cutoff)
    return {day for day in usage if day in activity or day not in raw_active}


def purge_expired(url: str, retention_days: int, now: datetime | None = None) -> RetentionReport:
    """Delete rows of rolled-up days older than the retention; record and return the counts."""
    cutoff = retention_cutoff(now or datetime.now(UTC), retention_days)
    removed: dict[str, int] = {}
    with connect(url) as conn:
        targets = _targets(conn)
        purge, held = split_due_days(_due_days(conn, targets, cutoff), _rolled_up_days(conn, cutoff))
        for schema, table, column in targets:
            deleted = 0
            for start, end in day_ranges(purge):
                deleted += conn.execute(
                    sql.SQL("DELETE FROM {} WHERE {col} >= %s AND {col} < %s").format(
                        sql.Identifier(schema, table), col=sql.Identifier(column)),
                    (start, end),
                ).rowcount
            if deleted:
                removed[f"{schema}.{table}"] = deleted
        report = RetentionReport(retention_days, cutoff, len(purge), len(held), removed)
        conn.execute(
            "INSERT INTO ops.retention_runs (ran_at, retention_days, cutoff, days_purged, days_held_back, "
            "rows_removed, removed) VALUES (now(), %s, %s, %s, %s, %s, %s)",
            (retention_days, cutoff, report.days_purged, report.days_held_back, report.rows_removed,
             json.dumps(removed, sort_keys=True)),
        )
        conn.commit()
    return report
