"""Repeated keys: of all the source's copies of a key that pass every other rule, the first
recorded stays, the others are quarantined as 'duplicate'.

"First" is by recorded_at, ties broken by every column, so the choice does not depend on the
physical order rows arrived in, nor on how runs were cut: copies are judged against the source,
not against the run's window or against what raw happens to hold. (Judging against raw would make
the kept copy depend on which hour ran first, and keeping the earlier copy then would mean
rewriting another hour's window.) Repeats are rare, so both steps only rank a few rows:

- within the window, one hash aggregate finds the repeated keys (`move_duplicates`);
- across hours, the source is asked which of the window's keys it also holds under another hour
  (`keys_in_other_hours_query`, an index probe per window row on a tick, the few rows outside the
  window on a full backfill); only those keys' copies are read and ranked (`move_superseded_copies`).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from orchestration.snapshots.tables import SnapshotTable, partition_in_window, unusable_event_time

DUPLICATE = "duplicate"


def _first_copy_order(alias: str, table: SnapshotTable) -> sql.Composed:
    return sql.SQL(", ").join(
        [sql.SQL("{}").format(sql.Identifier(alias, "recorded_at"))]
        + [sql.SQL("{} NULLS LAST").format(sql.Identifier(alias, c)) for c in table.columns]
    )


def move_duplicates(
    cur: psycopg.Cursor, table: SnapshotTable, relation: sql.Composable, where: sql.Composable
) -> int:
    """Move every copy but the first of each repeated key among `relation`'s rows matching `where`
    into the temporary table `rejected` (reason 'duplicate', filed under the row's event hour).
    Return how many rows moved.
    """
    key = sql.SQL(", ").join(sql.Identifier(c) for c in table.duplicate_key)
    cur.execute("DROP TABLE IF EXISTS repeated_keys")
    cur.execute(
        sql.SQL(
            "CREATE TEMP TABLE repeated_keys ON COMMIT DROP AS "
            "SELECT {key} FROM {relation} WHERE {where} GROUP BY {key} HAVING count(*) > 1"
        ).format(key=key, relation=relation, where=where)
    )
    if cur.rowcount == 0:
        cur.execute("DROP TABLE repeated_keys")
        return 0
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)
    order = _first_copy_order("r", table)
    cur.execute("ANALYZE repeated_keys")
    cur.execute(
        sql.SQL(
            """
            WITH ranked AS (
                SELECT r.row_ctid,
                       row_number() OVER (PARTITION BY {rkey} ORDER BY {order}) AS copy_number
                FROM (SELECT ctid AS row_ctid, * FROM {relation} WHERE {where}) r
                JOIN repeated_keys k ON ({matches})
            ),
            losers AS (
                DELETE FROM {relation}
                WHERE ctid = ANY(ARRAY(SELECT row_ctid FROM ranked WHERE copy_number > 1))
                RETURNING {cols}
            )
            INSERT INTO rejected ({cols}, partition_at, reason)
            SELECT {cols}, {event_time}, {duplicate} FROM losers
            """
        ).format(
            rkey=sql.SQL(", ").join(sql.Identifier("r", c) for c in table.duplicate_key),
            order=order,
            relation=relation,
            where=where,
            matches=sql.SQL(" AND ").join(
                sql.SQL("{} = {}").format(sql.Identifier("r", c), sql.Identifier("k", c))
                for c in table.duplicate_key
            ),
            cols=cols,
            event_time=sql.Identifier(table.event_time),
            duplicate=sql.Literal(DUPLICATE),
        )
    )
    moved = cur.rowcount
    cur.execute("DROP TABLE repeated_keys")
    return moved


def keys_in_other_hours_query(table: SnapshotTable) -> str:
    """Source SQL: keys of the window's rows that a source row filed under another hour also holds.

    Both sides are written index-friendly (the window by its time indexes, "another hour" as four
    ranges), so the planner drives the join from the smaller side and probes the key index.
    """
    (key,) = table.duplicate_key
    et = table.event_time
    unusable = unusable_event_time(et, "o")
    elsewhere = " OR ".join([
        f"(o.{et} < %(start)s AND NOT {unusable})", f"(o.{et} >= %(end)s AND NOT {unusable})",
        f"(o.recorded_at < %(start)s AND {unusable})", f"(o.recorded_at >= %(end)s AND {unusable})",
    ])
    return f"""
        SELECT DISTINCT w.{key} FROM app.{table.keyed_source} w
        JOIN app.{table.keyed_source} o ON o.{key} = w.{key}
        WHERE {partition_in_window(et, "w")} AND ({elsewhere})
    """


def move_superseded_copies(cur: psycopg.Cursor, table: SnapshotTable, in_window: sql.Composable) -> int:
    """Move the window's raw rows that are not their key's first copy in the whole source into
    `rejected` (reason 'duplicate'); return how many moved.

    The caller fills the temporary table `key_copies` (raw's columns plus `reason`, the first rule
    a copy breaks) with every source copy of the keys in question, wherever it is filed.
    """
    (key,) = table.duplicate_key
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)
    cur.execute(
        sql.SQL(
            """
            WITH firsts AS (
                SELECT DISTINCT ON (c.{key}) {ccols} FROM key_copies c WHERE c.reason IS NULL
                ORDER BY c.{key}, {order}
            ),
            losers AS (
                DELETE FROM {raw} r
                WHERE {in_window} AND r.{key} IN (SELECT {key} FROM key_copies)
                  AND NOT EXISTS (SELECT 1 FROM firsts f WHERE ({fcols}) IS NOT DISTINCT FROM ({rcols}))
                RETURNING {rcols}
            )
            INSERT INTO rejected ({cols}, partition_at, reason)
            SELECT {cols}, {event_time}, {duplicate} FROM losers
            """
        ).format(
            key=sql.Identifier(key),
            ccols=sql.SQL(", ").join(sql.Identifier("c", c) for c in table.columns),
            fcols=sql.SQL(", ").join(sql.Identifier("f", c) for c in table.columns),
            rcols=sql.SQL(", ").join(sql.Identifier("r", c) for c in table.columns),
            order=_first_copy_order("c", table),
            raw=sql.Identifier("raw", table.name),
            in_window=in_window,
            cols=cols,
            event_time=sql.Identifier(table.event_time),
            duplicate=sql.Literal(DUPLICATE),
        )
    )
    moved = cur.rowcount
    cur.execute("DROP TABLE key_copies")
    return moved
