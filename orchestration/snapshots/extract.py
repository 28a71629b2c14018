"""Copy one hour window of a source table into raw, quarantining the rows that break a rule.

Rows stream source → warehouse with COPY (never through Python objects). The source server names
each row's first broken rule while it reads the row, so the warehouse sees every row once on the
way in (a temporary table), once to find repeated keys (a hash aggregate; the few repeats are then
ranked) and once to write raw and quarantine. The caller owns the warehouse transaction, so a crash
leaves no partial window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql

from orchestration.snapshots.tables import SnapshotTable

# Rows of accounts erased on request (ops.erased_accounts) are classified first and never stored,
# not even in quarantine: the source may still hold them, erasure must not be undone by a re-run.
ERASED = "erased"
DUPLICATE = "duplicate"
# Hash aggregates over a 90-day window (millions of keys) stay in memory instead of spilling.
EXTRACT_WORK_MEM = "256MB"


@dataclass(frozen=True)
class ExtractResult:
    table: str
    rows_loaded: int
    rows_quarantined: int
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)


def _ident(*parts: str) -> sql.Identifier:
    return sql.Identifier(*parts)


def _cols(columns: tuple[str, ...], prefix: str | None = None) -> sql.Composed:
    return sql.SQL(", ").join(_ident(prefix, c) if prefix else _ident(c) for c in columns)


def _ruled_source_query(table: SnapshotTable) -> sql.Composed:
    """The table's source query, each row with the first rule it breaks (NULL: none)."""
    whens = [sql.SQL("WHEN q.account_id = ANY(%(erased)s) THEN {}").format(sql.Literal(ERASED))]
    whens += [
        sql.SQL("WHEN ({}) THEN {}").format(sql.SQL(predicate), sql.Literal(reason))
        for reason, predicate in table.rules
    ]
    return sql.SQL("SELECT {cols}, q.partition_at, CASE {whens} END AS reason FROM ({query}) q").format(
        cols=_cols(table.columns, "q"), whens=sql.SQL(" ").join(whens), query=sql.SQL(table.source_query)
    )


def _mark_duplicates(cur: psycopg.Cursor, table: SnapshotTable) -> None:
    """Among rows that broke no rule, keep per key the first recorded (ties broken by every column,
    so the choice does not depend on physical order) and mark the others as duplicates."""
    key = _cols(table.duplicate_key)
    order = sql.SQL(", ").join(
        [sql.SQL("i.recorded_at")] + [sql.SQL("{} NULLS LAST").format(_ident("i", c)) for c in table.columns]
    )
    cur.execute(
        sql.SQL(
            "CREATE TEMP TABLE repeated_keys ON COMMIT DROP AS "
            "SELECT {key} FROM incoming WHERE reason IS NULL GROUP BY {key} HAVING count(*) > 1"
        ).format(key=key)
    )
    cur.execute(
        sql.SQL(
            """
            UPDATE incoming SET reason = {duplicate}
            WHERE ctid = ANY(ARRAY(
                SELECT row_ctid FROM (
                    SELECT i.ctid AS row_ctid,
                           row_number() OVER (PARTITION BY {ikey} ORDER BY {order}) AS copy_number
                    FROM incoming i JOIN repeated_keys USING ({key})
                    WHERE i.reason IS NULL
                ) ranked
                WHERE copy_number > 1
            ))
            """
        ).format(duplicate=sql.Literal(DUPLICATE), ikey=_cols(table.duplicate_key, "i"), key=key, order=order)
    )


def extract_window(
    source: psycopg.Connection,
    warehouse: psycopg.Connection,
    table: SnapshotTable,
    start: datetime,
    end: datetime,
    erased_accounts: list[int],
) -> ExtractResult:
    """Replace raw/quarantine rows of `table` for the window [start, end) with the source's.

    A cumulative table's window starts at -infinity: everything up to `end` is replaced.
    `erased_accounts` are the account ids whose rows must not be stored at all.
    """
    lower: datetime | str = "-infinity" if table.cumulative else start
    query = psycopg.ClientCursor(source).mogrify(
        _ruled_source_query(table), {"start": lower, "end": end, "erased": erased_accounts}
    )
    with warehouse.cursor() as cur:
        cur.execute(sql.SQL("SET LOCAL work_mem = {}").format(sql.Literal(EXTRACT_WORK_MEM)))
        cur.execute("DROP TABLE IF EXISTS incoming; DROP TABLE IF EXISTS repeated_keys")
        cur.execute(
            sql.SQL("CREATE TEMP TABLE incoming ON COMMIT DROP AS SELECT * FROM {} WITH NO DATA")
            .format(_ident("raw", table.name))
        )
        cur.execute("ALTER TABLE incoming ADD COLUMN partition_at timestamptz, ADD COLUMN reason text")

        with source.cursor() as src, src.copy(f"COPY ({query}) TO STDOUT") as out:
            copy_in = sql.SQL("COPY incoming ({}, partition_at, reason) FROM STDIN").format(_cols(table.columns))
            with cur.copy(copy_in) as into:
                for block in out:
                    into.write(block)

        _mark_duplicates(cur, table)
        cur.execute(
            sql.SQL("DELETE FROM {} WHERE {} >= %s AND {} < %s").format(
                _ident("raw", table.name), _ident(table.event_time), _ident(table.event_time)
            ),
            (lower, end),
        )
        cur.execute(
            sql.SQL("DELETE FROM {} WHERE partition_hour >= %s AND partition_hour < %s").format(
                _ident("quarantine", table.name)
            ),
            (lower, end),
        )
        cur.execute(
            sql.SQL("INSERT INTO {} ({cols}) SELECT {cols} FROM incoming WHERE reason IS NULL ORDER BY {et}")
            .format(_ident("raw", table.name), cols=_cols(table.columns), et=_ident(table.event_time))
        )
        loaded = cur.rowcount
        by_reason = dict(
            cur.execute(
                sql.SQL(
                    """
                    WITH rejected AS (
                        SELECT {cols}, reason, date_trunc('hour', partition_at) AS partition_hour
                        FROM incoming WHERE reason IS NOT NULL
                    ),
                    kept AS (
                        INSERT INTO {quarantine} ({cols}, reason, partition_hour)
                        SELECT {cols}, reason, partition_hour FROM rejected WHERE reason <> {erased}
                    )
                    SELECT reason, count(*) FROM rejected GROUP BY reason ORDER BY reason
                    """
                ).format(
                    cols=_cols(table.columns),
                    quarantine=_ident("quarantine", table.name),
                    erased=sql.Literal(ERASED),
                )
            ).fetchall()
        )
        cur.execute("DROP TABLE incoming; DROP TABLE repeated_keys")
    quarantined = sum(n for reason, n in by_reason.items() if reason != ERASED)
    return ExtractResult(table.name, loaded, quarantined, by_reason)


def record_snapshot_log(
    warehouse: psycopg.Connection,
    table: SnapshotTable,
    start: datetime,
    end: datetime,
    source_cutoff: datetime,
) -> None:
    """Note, for every hour of the window, what the extraction saw (read by late-data detection).

    One grouped pass over the window's raw and quarantine rows, not a count per hour.
    """
    warehouse.execute(
        sql.SQL(
            """
            INSERT INTO raw.snapshot_log AS l
                (table_name, partition_hour, source_cutoff, rows_loaded, rows_quarantined,
                 extracted_at)
            SELECT %(table)s, h.hour, %(cutoff)s, coalesce(r.n, 0), coalesce(q.n, 0),
                   clock_timestamp()
            FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 hour',
                                 interval '1 hour') AS h (hour)
            LEFT JOIN (
                SELECT date_trunc('hour', {et}) AS hour, count(*) AS n FROM {raw}
                WHERE {et} >= %(start)s AND {et} < %(end)s GROUP BY 1
            ) r USING (hour)
            LEFT JOIN (
                SELECT partition_hour AS hour, count(*) AS n FROM {quarantine}
                WHERE partition_hour >= %(start)s AND partition_hour < %(end)s GROUP BY 1
            ) q USING (hour)
            ON CONFLICT (table_name, partition_hour) DO UPDATE SET
                source_cutoff = excluded.source_cutoff,
                rows_loaded = excluded.rows_loaded,
                rows_quarantined = excluded.rows_quarantined,
                extracted_at = excluded.extracted_at
            """
        ).format(
            raw=_ident("raw", table.name),
            quarantine=_ident("quarantine", table.name),
            et=_ident(table.event_time),
        ),
        {"table": table.name, "cutoff": source_cutoff, "start": start, "end": end},
    )


def replace_plans(source: psycopg.Connection, warehouse: psycopg.Connection) -> int:
    """The plan catalogue is small and slowly changing: each run replaces it whole."""
    columns = (
        "plan_id, plan_name, tier, monthly_price, annual_price, limit_audio_minutes, "
        "limit_sessions, limit_storage_mb, limit_exports, overage_audio_minute_price, "
        "overage_session_price, overage_storage_mb_price, overage_export_price, trial_days, "
        "recorded_at"
    )
    with warehouse.cursor() as cur:
        cur.execute("DELETE FROM raw.plans")
        with (
            source.cursor() as src,
            src.copy(f"COPY (SELECT {columns} FROM app.plans) TO STDOUT") as out,
            cur.copy(f"COPY raw.plans ({columns}) FROM STDIN") as into,
        ):
            for block in out:
                into.write(block)
        return cur.execute("SELECT count(*) FROM raw.plans").fetchone()[0]
