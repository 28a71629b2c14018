"""Copy one hour window of a source table into raw, quarantining the rows that break a rule.

Rows stream source → warehouse with COPY (never through Python objects), land in a temporary
table, are classified with set-based SQL, and then replace exactly the window's rows in raw and
quarantine. The caller owns the warehouse transaction, so a crash leaves no partial window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql

from orchestration.snapshots.tables import SnapshotTable

# Rows of accounts erased on request (ops.erased_accounts) are classified first and never stored,
# not even in quarantine: the source may still hold them, erasure must not be undone by a re-run.
ERASED = ("erased", "account_id IN (SELECT account_id FROM ops.erased_accounts)")


@dataclass(frozen=True)
class ExtractResult:
    table: str
    rows_loaded: int
    rows_quarantined: int
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)


def _ident(*parts: str) -> sql.Identifier:
    return sql.Identifier(*parts)


def _cols(columns: tuple[str, ...]) -> sql.Composed:
    return sql.SQL(", ").join(_ident(c) for c in columns)


def _classify_sql(table: SnapshotTable) -> sql.Composed:
    """One pass that names each incoming row's first broken rule, then marks repeated keys.

    Duplicates are only looked for among rows that broke no rule, and the copy kept is the first
    recorded (ties broken by every column), so the choice does not depend on physical order.
    """
    rule_case = sql.SQL("CASE {} END").format(
        sql.SQL(" ").join(
            sql.SQL("WHEN ({}) THEN {}").format(sql.SQL(predicate), sql.Literal(reason))
            for reason, predicate in (ERASED, *table.rules)
        )
    )
    order = sql.SQL(", ").join(
        [sql.SQL("recorded_at")] + [sql.SQL("{} NULLS LAST").format(_ident(c)) for c in table.columns]
    )
    return sql.SQL(
        """
        CREATE TEMP TABLE classified ON COMMIT DROP AS
        WITH ruled AS (
            SELECT i.*, {rule_case} AS rule_reason FROM incoming i
        )
        SELECT {cols},
               date_trunc('hour', partition_at) AS partition_hour,
               coalesce(
                   rule_reason,
                   CASE WHEN rule_reason IS NULL AND row_number() OVER (
                            PARTITION BY rule_reason IS NULL, {key} ORDER BY {order}) > 1
                        THEN 'duplicate' END
               ) AS reason
        FROM ruled
        """
    ).format(
        rule_case=rule_case,
        cols=_cols(table.columns),
        key=_cols(table.duplicate_key),
        order=order,
    )


def extract_window(
    source: psycopg.Connection,
    warehouse: psycopg.Connection,
    table: SnapshotTable,
    start: datetime,
    end: datetime,
) -> ExtractResult:
    """Replace raw/quarantine rows of `table` for the window [start, end) with the source's.

    A cumulative table's window starts at -infinity: everything up to `end` is replaced.
    """
    lower: datetime | str = "-infinity" if table.cumulative else start
    query = psycopg.ClientCursor(source).mogrify(table.source_query, {"start": lower, "end": end})
    incoming_cols = table.columns + ("partition_at", "account_known") + tuple(
        name for name, _ in table.extra_columns
    )
    with warehouse.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS incoming; DROP TABLE IF EXISTS classified")
        cur.execute(
            sql.SQL("CREATE TEMP TABLE incoming ON COMMIT DROP AS SELECT * FROM {} WITH NO DATA")
            .format(_ident("raw", table.name))
        )
        extra = [sql.SQL("ADD COLUMN partition_at timestamptz"), sql.SQL("ADD COLUMN account_known boolean")]
        extra += [
            sql.SQL("ADD COLUMN {} {}").format(_ident(name), sql.SQL(sql_type))
            for name, sql_type in table.extra_columns
        ]
        cur.execute(sql.SQL("ALTER TABLE incoming {}").format(sql.SQL(", ").join(extra)))

        with source.cursor() as src, src.copy(f"COPY ({query}) TO STDOUT") as out:
            copy_in = sql.SQL("COPY incoming ({}) FROM STDIN").format(_cols(incoming_cols))
            with cur.copy(copy_in) as into:
                for block in out:
                    into.write(block)

        cur.execute(_classify_sql(table))
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
            sql.SQL("INSERT INTO {} ({cols}) SELECT {cols} FROM classified WHERE reason IS NULL")
            .format(_ident("raw", table.name), cols=_cols(table.columns))
        )
        loaded = cur.rowcount
        cur.execute(
            sql.SQL(
                "INSERT INTO {} ({cols}, reason, partition_hour) "
                "SELECT {cols}, reason, partition_hour FROM classified WHERE reason <> {erased}"
            ).format(_ident("quarantine", table.name), cols=_cols(table.columns), erased=sql.Literal(ERASED[0]))
        )
        quarantined = cur.rowcount
        by_reason = dict(
            cur.execute(
                "SELECT reason, count(*) FROM classified WHERE reason IS NOT NULL "
                "GROUP BY reason ORDER BY reason"
            ).fetchall()
        )
        cur.execute("DROP TABLE incoming; DROP TABLE classified")
    return ExtractResult(table.name, loaded, quarantined, by_reason)


def record_snapshot_log(
    warehouse: psycopg.Connection,
    table: SnapshotTable,
    start: datetime,
    end: datetime,
    source_cutoff: datetime,
) -> None:
    """Note, for every hour of the window, what the extraction saw (read by late-data detection)."""
    warehouse.execute(
        sql.SQL(
            """
            INSERT INTO raw.snapshot_log AS l
                (table_name, partition_hour, source_cutoff, rows_loaded, rows_quarantined,
                 extracted_at)
            SELECT %(table)s, h, %(cutoff)s,
                   (SELECT count(*) FROM {raw} r
                     WHERE r.{et} >= h AND r.{et} < h + interval '1 hour'),
                   (SELECT count(*) FROM {quarantine} q WHERE q.partition_hour = h),
                   clock_timestamp()
            FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 hour',
                                 interval '1 hour') AS h
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
