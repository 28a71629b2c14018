"""Database side of the simulator: COPY, subscription upserts, pending rows, a writer thread."""

from __future__ import annotations

import queue
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Self

import psycopg

from orchestration.source import tables
from orchestration.source.copy_writer import copy_tuples

_UPSERT = """
    WITH upserted AS (
        INSERT INTO app.subscriptions
        SELECT DISTINCT ON (subscription_id) * FROM pg_temp.sim_subscriptions
        ORDER BY subscription_id, updated_at DESC, (ended_at IS NULL), recorded_at DESC
        ON CONFLICT (subscription_id) DO UPDATE SET
            plan_id = EXCLUDED.plan_id, billing_period = EXCLUDED.billing_period,
            is_trial = EXCLUDED.is_trial, started_at = EXCLUDED.started_at,
            ended_at = EXCLUDED.ended_at, end_reason = EXCLUDED.end_reason,
            status = EXCLUDED.status, updated_at = EXCLUDED.updated_at,
            recorded_at = EXCLUDED.recorded_at
        WHERE app.subscriptions.updated_at <= EXCLUDED.updated_at
        RETURNING (xmax = 0) AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
"""


class BackgroundWriter:
    """Runs the database writes on a second thread, in submission order.

    Generating and encoding the next day then overlaps with PostgreSQL ingesting the previous
    one; for a big history the server, not Python, is the bottleneck. Only this thread uses the
    connection while it runs. A failed write stops all later ones and is re-raised.
    """

    def __init__(self, conn: psycopg.Connection, counts: Counter[str]) -> None:
        self._conn, self._counts = conn, counts
        self._queue: queue.Queue[tuple[Callable[..., Counter[str]], tuple] | None] = (
            queue.Queue(maxsize=8))
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="simulator-writer", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def submit(self, write: Callable[..., Counter[str]], *args: object) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((write, args))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._counts.update(item[0](self._conn, *item[1]))
                except Exception as error:  # noqa: BLE001 - re-raised in the submitting thread
                    self._error = error

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None and exc_type is None:
            raise self._error


def park(conn: psycopg.Connection, table: str, hour: int, row_count: int,
         tuples: bytes) -> Counter[str]:
    """Keep rows recorded after the horizon in app.simulation_pending until they are due."""
    conn.execute(
        "INSERT INTO app.simulation_pending (table_name, recorded_hour, row_count, tuples) "
        "VALUES (%s, %s, %s, %s)", (table, datetime.fromtimestamp(hour, UTC), row_count, tuples))
    return Counter()


def write_rows(conn: psycopg.Connection, table: str, tuples: bytes,
               row_count: int) -> Counter[str]:
    """COPY tuples into `table`; subscription versions are upserted (latest version wins)."""
    key = table.removeprefix("app.")
    if not tuples:
        return Counter()
    if table != "app.subscriptions":
        copy_tuples(conn, tables.ALL[table], tuples)
        return Counter({key: row_count})
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS sim_subscriptions "
                 "(LIKE app.subscriptions) ON COMMIT DROP")
    copy_tuples(conn, tables.SUBSCRIPTIONS, tuples, target="pg_temp.sim_subscriptions")
    inserted, updated = conn.execute(_UPSERT).fetchone()
    conn.execute("TRUNCATE pg_temp.sim_subscriptions")
    return Counter({"subscriptions": inserted, "subscriptions_updated": updated})
