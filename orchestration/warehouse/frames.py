"""Moving pandas frames in and out of the warehouse for the Python (ml) assets.

Model outputs are small (accounts × metrics) but still go in with COPY, never row by row, and
each asset replaces its rows in one transaction, so a re-run leaves the same table and a crash
leaves the previous one.
"""

from __future__ import annotations

import io

import pandas as pd
import psycopg
from psycopg import sql

from orchestration.warehouse.connection import connect


def query_frame(conn: psycopg.Connection, query: str, params: dict | tuple | None = None) -> pd.DataFrame:
    """A query's rows on the caller's connection, so several reads can share one snapshot."""
    cur = conn.execute(query, params)
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def read_frame(url: str, query: str, params: dict | tuple | None = None) -> pd.DataFrame:
    with connect(url) as conn:
        return query_frame(conn, query, params)


def copy_frame(conn: psycopg.Connection, table: str, frame: pd.DataFrame) -> int:
    """COPY `frame` into schema-qualified `table` (columns by name) inside the caller's transaction."""
    if frame.empty:
        return 0
    schema, name = table.split(".")
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep="\\N")
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, NULL '\\N')").format(
        sql.Identifier(schema, name), sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
    )
    with conn.cursor() as cur, cur.copy(statement) as copy:
        copy.write(buffer.getvalue())
    return len(frame)


def replace_rows(url: str, table: str, frame: pd.DataFrame, where: str = "true",
                 params: dict | tuple | None = None) -> int:
    """Delete the rows matching `where` and insert `frame`, atomically."""
    schema, name = table.split(".")
    with connect(url) as conn:
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE {}").format(sql.Identifier(schema, name), sql.SQL(where)),
            params,
        )
        written = copy_frame(conn, table, frame)
        conn.commit()
    return written
