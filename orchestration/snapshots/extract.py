"""Copy one hour window of a source table into raw, quarantining the rows that break a rule.

Rows stream source → warehouse with COPY (never through Python objects), in one transaction the
caller owns, so a crash leaves no partial window. The source server names each row's first broken
rule while it reads the row; the rows that broke none are copied straight into raw, the others into
a temporary table and from there into quarantine. Repeated keys are then looked for in what was
loaded (orchestration/snapshots/duplicates.py), unless raw's own unique key already rules them out:
then a repeat makes the direct copy fail, and the window is loaded again through a temporary table
where repeats are set aside first. Clean data, the common case, is read once and written once.
Keys the window shares with rows the source files under other hours are then settled against
all their copies (orchestration/snapshots/duplicates.py), so the kept copy does not depend on how
runs were cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql

from orchestration.snapshots.domain import rule_parameters
from orchestration.snapshots.duplicates import (
    keys_in_other_hours_query,
    move_duplicates,
    move_superseded_copies,
)
from orchestration.snapshots.tables import SnapshotTable

# Rows of accounts erased on request (ops.erased_accounts) are classified first and never stored,
# not even in quarantine: the source may still hold them, erasure must not be undone by a re-run.
ERASED = "erased"
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


def _ruled_source_query(table: SnapshotTable, *, fenced: bool) -> sql.Composed:
    """The table's source query, each row with the first rule it breaks (NULL: none).

    `fenced` (OFFSET 0) keeps the planner from pushing a filter on `reason` into the source query.
    Reading the rows that broke no rule, that filter keeps nearly every row, but the planner guesses
    it keeps few and turns the source query's joins into nested loops: fence it. Reading the rows
    that broke a rule, pushing it down is right: the joins then only see the few rejected rows.
    """
    whens = [sql.SQL("WHEN q.account_id = ANY(%(erased)s) THEN {}").format(sql.Literal(ERASED))]
    whens += [
        sql.SQL("WHEN ({}) THEN {}").format(sql.SQL(predicate), sql.Literal(reason))
        for reason, predicate in table.rules
    ]
    return sql.SQL(
        "SELECT {cols}, q.partition_at, CASE {whens} END AS reason FROM (SELECT * FROM ({query}) s{fence}) q"
    ).format(
        cols=_cols(table.columns, "q"),
        whens=sql.SQL(" ").join(whens),
        query=sql.SQL(table.source_query),
        fence=sql.SQL(" OFFSET 0" if fenced else ""),
    )


def _stream(source: psycopg.Connection, query: str, cur: psycopg.Cursor, target: sql.Composable) -> int:
    """COPY a source query's rows into `target` (a table and column list); return the row count."""
    with (
        source.cursor() as src,
        src.copy(f"COPY ({query}) TO STDOUT") as out,
        cur.copy(sql.SQL("COPY {} FROM STDIN").format(target)) as into,
    ):
        for block in out:
            into.write(block)
    return cur.rowcount


def _create_temp_like_raw(cur: psycopg.Cursor, name: str, table: SnapshotTable) -> None:
    """An empty temporary table with raw's columns of `table`, dropped at commit."""
    cur.execute(
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA")
        .format(_ident(name), _cols(table.columns), _ident("raw", table.name))
    )


def _key_enforced_by_raw(cur: psycopg.Cursor, table: SnapshotTable) -> bool:
    """Whether raw has a unique index on exactly the table's duplicate key."""
    return bool(cur.execute(
        """
        SELECT 1 FROM pg_index i
        WHERE i.indrelid = %s::regclass AND i.indisunique AND i.indnkeyatts = %s
          AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a
               WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) = %s::text[]
        """,
        (f"raw.{table.name}", len(table.duplicate_key), sorted(table.duplicate_key)),
    ).fetchone())


def _settle_keys_in_other_hours(
    source: psycopg.Connection, cur: psycopg.Cursor, table: SnapshotTable, params: dict,
    in_window: sql.Composable,
) -> int:
    """Quarantine the window's raw rows whose key has an earlier valid copy filed under another
    hour; return how many moved. Every copy of those keys is read through the same rules."""
    mogrify = psycopg.ClientCursor(source).mogrify
    keys = [k for (k,) in source.execute(mogrify(keys_in_other_hours_query(table), params))]
    if not keys:
        return 0
    (key,) = table.duplicate_key
    everywhere = {**params, "start": "-infinity", "end": "infinity"}
    copies = mogrify(
        sql.SQL("SELECT * FROM ({}) r WHERE r.{} = ANY(%(keys)s)").format(
            _ruled_source_query(table, fenced=False), _ident(key)),
        {**everywhere, "keys": keys},
    )
    _create_temp_like_raw(cur, "key_copies", table)
    cur.execute("ALTER TABLE key_copies ADD COLUMN partition_at timestamptz, ADD COLUMN reason text")
    _stream(source, copies, cur, sql.SQL("key_copies ({}, partition_at, reason)").format(_cols(table.columns)))
    return move_superseded_copies(cur, table, in_window)


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
    params = {"start": lower, "end": end, "erased": erased_accounts, **rule_parameters()}
    mogrify = psycopg.ClientCursor(source).mogrify
    cols = _cols(table.columns)
    raw = _ident("raw", table.name)
    et = _ident(table.event_time)
    in_window = sql.SQL("{et} >= {lower} AND {et} < {end}").format(
        et=et, lower=sql.Literal(lower), end=sql.Literal(end)
    )
    good = f"SELECT {cols.as_string(source)} FROM ({mogrify(_ruled_source_query(table, fenced=True), params)}) r " \
        "WHERE r.reason IS NULL"
    rejected = f"SELECT * FROM ({mogrify(_ruled_source_query(table, fenced=False), params)}) r " \
        "WHERE r.reason IS NOT NULL"
    with warehouse.cursor() as cur:
        cur.execute(sql.SQL("SET LOCAL work_mem = {}").format(sql.Literal(EXTRACT_WORK_MEM)))
        cur.execute("DROP TABLE IF EXISTS rejected; DROP TABLE IF EXISTS incoming")
        _create_temp_like_raw(cur, "rejected", table)
        cur.execute("ALTER TABLE rejected ADD COLUMN partition_at timestamptz, ADD COLUMN reason text")
        cur.execute(sql.SQL("DELETE FROM {} WHERE {}").format(raw, in_window))
        cur.execute(
            sql.SQL("DELETE FROM {} WHERE partition_hour >= %s AND partition_hour < %s")
            .format(_ident("quarantine", table.name)),
            (lower, end),
        )
        key_enforced = _key_enforced_by_raw(cur, table)
        try:
            with warehouse.transaction():
                loaded = _stream(source, good, cur, sql.SQL("{} ({})").format(raw, cols))
        except psycopg.errors.UniqueViolation:
            # A key repeats: set the repeats aside in a temporary table, then load raw from it.
            _create_temp_like_raw(cur, "incoming", table)
            _stream(source, good, cur, sql.SQL("incoming ({})").format(cols))
            move_duplicates(cur, table, _ident("incoming"), sql.SQL("true"))
            cur.execute(sql.SQL("INSERT INTO {raw} ({cols}) SELECT {cols} FROM incoming").format(raw=raw, cols=cols))
            loaded = cur.rowcount
            cur.execute("DROP TABLE incoming")
        else:
            if not key_enforced:
                loaded -= move_duplicates(cur, table, raw, in_window)
        if table.keyed_source:
            loaded -= _settle_keys_in_other_hours(source, cur, table, params, in_window)
        _stream(source, rejected, cur, sql.SQL("rejected ({}, partition_at, reason)").format(cols))
        by_reason = dict(
            cur.execute(
                sql.SQL(
                    """
                    WITH kept AS (
                        INSERT INTO {quarantine} ({cols}, reason, partition_hour)
                        SELECT {cols}, reason, date_trunc('hour', partition_at) FROM rejected
                        WHERE reason <> {erased}
                    )
                    SELECT reason, count(*) FROM rejected GROUP BY reason ORDER BY reason
                    """
                ).format(cols=cols, quarantine=_ident("quarantine", table.name), erased=sql.Literal(ERASED))
            ).fetchall()
        )
        cur.execute("DROP TABLE rejected")
    quarantined = sum(n for reason, n in by_reason.items() if reason != ERASED)
    return ExtractResult(table.name, loaded, quarantined, by_reason)


def record_snapshot_log(
    warehouse: psycopg.Connection,
    table: SnapshotTable,
    start: datetime,
    end: datetime,
    source_cutoff: datetime,
) -> None:
    """Note, for every hour of the window, what the extraction saw (read by late-data detection)
    and stored (read by the row-accounting check).

    One grouped pass over the window's raw and quarantine rows, not a count per hour.
    """
    warehouse.execute(
        sql.SQL(
            """
            INSERT INTO raw.snapshot_log AS l
                (table_name, partition_hour, source_cutoff, rows_loaded, rows_quarantined,
                 rows_stored_by_cutoff, extracted_at)
            SELECT %(table)s, h.hour, %(cutoff)s, coalesce(r.n, 0), coalesce(q.n, 0),
                   coalesce(r.by_cutoff, 0) + coalesce(q.by_cutoff, 0), clock_timestamp()
            FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 hour',
                                 interval '1 hour') AS h (hour)
            LEFT JOIN (
                SELECT date_trunc('hour', {et}) AS hour, count(*) AS n,
                       count(*) FILTER (WHERE recorded_at <= %(cutoff)s) AS by_cutoff
                FROM {raw} WHERE {et} >= %(start)s AND {et} < %(end)s GROUP BY 1
            ) r USING (hour)
            LEFT JOIN (
                SELECT partition_hour AS hour, count(*) AS n,
                       count(*) FILTER (WHERE recorded_at <= %(cutoff)s) AS by_cutoff
                FROM {quarantine}
                WHERE partition_hour >= %(start)s AND partition_hour < %(end)s GROUP BY 1
            ) q USING (hour)
            ON CONFLICT (table_name, partition_hour) DO UPDATE SET
                source_cutoff = excluded.source_cutoff,
                rows_loaded = excluded.rows_loaded,
                rows_quarantined = excluded.rows_quarantined,
                rows_stored_by_cutoff = excluded.rows_stored_by_cutoff,
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
