"""Concurrency pools: runs that write the same tables take turns instead of colliding.

Two runs for the same hour started together failed in 5 of 6 trials (a unique-key violation on
raw.accounts; issue 12, reproduction 7), and two dbt invocations rebuilding the same window
delete+insert over each other. Each writer is in a pool: the hourly snapshot, and each layer of
dbt models. The instance `make` writes limits every pool to one step at a time
(`concurrency: pools: default_limit: 1`, orchestration/dagster_instance.py); Dagster then holds a
second run's step until the first releases the pool, whether the run was launched by the daemon
or executed in-process by the CLI.

An instance without that config leaves pools unlimited, so each writer also holds a PostgreSQL
advisory lock named after its pool for the duration of its work (`warehouse_lock`): the belt that
keeps writes serialized anywhere. It is a session lock on its own connection, released when the
work ends or the process dies (the server drops the connection). Runs starting together also
take turns setting the warehouse up (migrations, BI role grants, orchestration/defs/resources.py):
concurrent GRANTs on one object fail with "tuple concurrently updated".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg

from orchestration.dagster_internals import initialize_pool_limits

RAW_SNAPSHOT_POOL = "raw_snapshot"
DBT_LAYERS = ("foundation", "hourly", "daily", "monthly")


def dbt_pool(layer: str) -> str:
    """The pool of one dbt layer's models (hourly, daily, monthly, foundation)."""
    return f"dbt_{layer}"


POOLS = (RAW_SNAPSHOT_POOL, *(dbt_pool(layer) for layer in DBT_LAYERS))


def initialize_pools(instance: dg.DagsterInstance) -> None:
    """Give every pool its limit row now, from one process.

    Dagster creates a pool's row on its first use; two runs doing that at the same moment on
    PostgreSQL storage make one of them fail (its insert conflicts, which aborts the transaction,
    and Dagster's fallback update then errors): seen in CI with two runs for one hour on a fresh
    instance. `make instance` calls this, so the daemon's first runs never race.
    """
    initialize_pool_limits(instance, POOLS)


@contextmanager
def warehouse_lock(warehouse_url: str, name: str) -> Iterator[None]:
    """Hold the warehouse-wide advisory lock `name` (a pool's name, say), waiting for its holder."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"usage-analytics/{name}",))
        yield
