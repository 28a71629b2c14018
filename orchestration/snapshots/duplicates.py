"""Repeated keys in an extracted window: the first recorded copy stays, the others are quarantined.

"First" is by recorded_at, ties broken by every column, so the choice does not depend on the
physical order rows arrived in and a re-run keeps the same copy. Repeats are rare: one hash
aggregate finds the repeated keys, and only their rows are ranked.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from orchestration.snapshots.tables import SnapshotTable

DUPLICATE = "duplicate"


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
    order = sql.SQL(", ").join(
        [sql.SQL("r.recorded_at")]
        + [sql.SQL("{} NULLS LAST").format(sql.Identifier("r", c)) for c in table.columns]
    )
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
