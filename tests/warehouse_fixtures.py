"""The setup most end-to-end test modules share: reset the warehouse, write a source, run every layer.

A module describes its source (a `SimulatedHistory` for the simulator, or a function writing a
hand-made one) and gets a warehouse whose every layer ran through Dagster over its hours, as the
CLI's backfill runs them (`orchestration.pipeline.run_layers`). Test modules use it through the
session fixture `build_warehouse` (tests/conftest.py), which binds the session's database and
Dagster instance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import dagster as dg
import psycopg

T = TypeVar("T")


@dataclass(frozen=True)
class SimulatedHistory:
    """What the simulator writes (`simulate_history`'s arguments) and the hours run through the layers.

    `run_days` runs only the last days of the history through the layers (the hourly snapshot
    layer costs most of a build); subscriptions and accounts are extracted cumulatively, so the
    marts still see the whole subscription history.
    """

    accounts: int
    days: int
    seed: int
    end: datetime
    late_rate: float = 0.01
    bad_rate: float = 0.002
    run_days: int | None = None

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)

    @property
    def run_start(self) -> datetime:
        return self.end - timedelta(days=self.run_days or self.days)

    def write(self, conn: psycopg.Connection) -> None:
        from orchestration.source.simulator import apply_source_schema, simulate_history

        apply_source_schema(conn)
        simulate_history(conn, accounts=self.accounts, days=self.days, seed=self.seed, end=self.end,
                         late_rate=self.late_rate, bad_rate=self.bad_rate)


def reset_warehouse(url: str) -> None:
    """Drop every platform schema and re-apply the migrations: a clean warehouse for a module."""
    from orchestration.warehouse.migrate import migrate

    with psycopg.connect(url, autocommit=True) as conn:
        for schema in ("app", "raw", "quarantine", "staging", "intermediate", "marts", "ml", "reports", "ops"):
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute("DROP TABLE IF EXISTS public.schema_migrations")
    migrate(url)


def build_warehouse(url: str, instance: dg.DagsterInstance, start: datetime, end: datetime,
                    write_source: Callable[[psycopg.Connection], T]) -> T:
    """Reset the warehouse, let `write_source` fill the source (schema `app`, same database) in one
    transaction, and run every layer over the hours [start, end); returns what `write_source` returned.

    A failed layer fails the module's setup, naming the runs."""
    from orchestration.definitions import defs
    from orchestration.pipeline import run_layers

    reset_warehouse(url)
    with psycopg.connect(url) as conn:
        written = write_source(conn)
        conn.commit()
    runs = run_layers(defs, instance, start, end)
    assert runs and all(r.success for r in runs), f"the layers over {start} .. {end} failed: {runs}"
    return written


def build_simulated_warehouse(url: str, instance: dg.DagsterInstance, history: SimulatedHistory,
                              edit_source: Callable[[psycopg.Connection], T] | None = None) -> T | None:
    """`build_warehouse` on the simulator's history; `edit_source` may change the simulated rows
    (a rare case made to happen, a hostile name) before the layers run, and its result is returned."""

    def write(conn: psycopg.Connection) -> T | None:
        history.write(conn)
        return edit_source(conn) if edit_source else None

    return build_warehouse(url, instance, history.run_start, history.end, write)


@dataclass(frozen=True)
class WarehouseBuilder:
    """`build_warehouse` and `build_simulated_warehouse` bound to the session's database and instance."""

    url: str
    instance: dg.DagsterInstance

    def simulated(self, history: SimulatedHistory,
                  edit_source: Callable[[psycopg.Connection], T] | None = None) -> T | None:
        return build_simulated_warehouse(self.url, self.instance, history, edit_source)

    def handmade(self, start: datetime, end: datetime, write_source: Callable[[psycopg.Connection], T]) -> T:
        return build_warehouse(self.url, self.instance, start, end, write_source)
