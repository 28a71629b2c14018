"""The seeded, reproducible simulator of the product's operational database (schema `app`).

History and hourly appends share one code path: the world advances in one-day steps, each
drawn from its own random generator seeded with (seed, hour of the step start), and every
generated row carries recorded_at. A run writes the rows recorded up to its horizon; rows
recorded later (sessions still running, late deliveries, tomorrow's share-link visits) wait in
app.simulation_pending and are written by the append whose window they fall in. So a row never
appears before its recorded_at, appends only ever add rows recorded inside their window, and the
same arguments always give the same tables.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg

from orchestration.source import tables
from orchestration.source.activity import simulate_day
from orchestration.source.copy_writer import encode, take
from orchestration.source.defects import LATE_HOURS, corrupt, delay
from orchestration.source.plans import plan_rows
from orchestration.source.population import (
    CHANNELS,
    COUNTRY_CODES,
    TIMEZONES,
    USER_TYPES,
    new_accounts,
)
from orchestration.source.prehistory import month_to_date, simulate_prehistory
from orchestration.source.subscriptions import Lifecycle
from orchestration.source.world import DAY, FIRST_ACCOUNT_ID, HOUR, NONE, Rows, World
from orchestration.source.writer import BackgroundWriter, park, write_rows

SCHEMA_SQL = Path(__file__).with_name("schema.sql")
PRE_HISTORY_DAYS = 365  # the product launched a year before the history starts
SIGNUP_GROWTH = math.log(1.12) / 30  # signups grow 12% a month, since launch
COUNT_KEYS = ("plans", "accounts", "subscriptions", "subscriptions_updated", "invoices",
              "sessions", "usage_events", "storage_readings")


def apply_source_schema(conn: psycopg.Connection) -> None:
    """Create schema `app` and its tables and indexes if missing (idempotent)."""
    conn.execute(SCHEMA_SQL.read_text())


def simulate_history(conn: psycopg.Connection, *, accounts: int, days: int, seed: int,
                     end: datetime, late_rate: float = 0.01,
                     bad_rate: float = 0.002) -> dict[str, int]:
    """Replace app.* with `days` days of history up to `end` (truncated to the hour).

    About `accounts` accounts have signed up by `end`, on one exponentially growing signup curve
    that starts a year before the history (so most accounts of a short history already exist
    at its start, and there is no jump in signups where the history begins).

    Returns the rows written per table; `subscriptions` counts rows inserted and
    `subscriptions_updated` rows later updated in place (ended or past_due) by the same run.
    Same arguments give identical tables.
    """
    if accounts < 1:
        raise ValueError("accounts must be at least 1")
    if days < 1:
        raise ValueError("days must be at least 1")
    if seed < 0:
        raise ValueError("seed must not be negative")
    _check_rates(late_rate, bad_rate)
    end_at = _hour(end, "end")
    start = end_at - days * DAY
    with conn.transaction():
        apply_source_schema(conn)
        conn.execute("TRUNCATE app.plans, app.accounts, app.subscriptions, app.sessions, "
                     "app.usage_events, app.storage_readings, app.invoices, "
                     "app.simulation_state, app.simulation_pending")
        # Bulk loads are several times faster without index maintenance; re-applying the
        # schema at the end rebuilds them (with enough memory to sort in one pass).
        conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for name in re.findall(r"CREATE INDEX IF NOT EXISTS (\w+)", SCHEMA_SQL.read_text()):
            conn.execute(f"DROP INDEX IF EXISTS app.{name}")
        world, rows = initial_world(seed, accounts, days, start)
        counts = _advance(conn, world, end_at, late_rate, bad_rate, rows)
        apply_source_schema(conn)
        conn.execute(
            "INSERT INTO app.simulation_state (seed, accounts, history_start, history_end, "
            "horizon, state) VALUES (%s, %s, %s, %s, %s, %s)",
            (seed, accounts, _dt(start), _dt(end_at), _dt(end_at), world.to_bytes()))
    return counts


def append_activity(conn: psycopg.Connection, *, until: datetime, late_rate: float = 0.01,
                    bad_rate: float = 0.002, late_hours: tuple[int, int] | None = None) -> dict[str, int]:
    """Continue the simulation from its horizon up to `until` (truncated to the hour).

    Writes exactly the rows recorded in (horizon, until], including late rows that happened
    hours earlier and subscription rows that changed (updated in place). Appending up to a
    horizon already reached writes nothing. With `late_hours` (low, high), late rows of the
    days simulated from now on arrive low to high hours after their partition hour instead of
    2-30 hours after they happened (the soak's 1-72 hours).
    """
    _check_rates(late_rate, bad_rate)
    until_at = _hour(until, "until")
    with conn.transaction():
        row = conn.execute(
            "SELECT horizon, state FROM app.simulation_state FOR UPDATE").fetchone()
        if row is None:
            raise RuntimeError("app.simulation_state is empty: run simulate_history first")
        horizon, blob = row
        if until_at <= int(horizon.timestamp()):
            return dict.fromkeys(COUNT_KEYS, 0)
        world = World.from_bytes(blob)
        counts = _advance(conn, world, until_at, late_rate, bad_rate, late_hours=late_hours)
        conn.execute("UPDATE app.simulation_state SET horizon = %s, state = %s, updated_at = now()",
                     (_dt(until_at), world.to_bytes()))
    return counts


def _check_rates(late_rate: float, bad_rate: float) -> None:
    for name, rate in (("late_rate", late_rate), ("bad_rate", bad_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {rate}")


def _hour(at: datetime, name: str) -> int:
    if at.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware, got {at.isoformat()}")
    seconds = math.floor(at.timestamp())
    return seconds - seconds % HOUR


def _dt(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def initial_world(seed: int, accounts: int, days: int, start: int) -> tuple[World, Rows]:
    """The world at the history start: the plan catalogue and the accounts signed up before,
    with their subscription and invoice history (prehistory.py) and the expected usage of
    the billing month in progress (it is billed at its end with what the history adds)."""
    rng = np.random.default_rng([seed, 0])
    g = SIGNUP_GROWTH
    low = math.exp(-g * PRE_HISTORY_DAYS)
    # signups per day at the start, so that the curve integrates to `accounts` at the end
    rate = accounts * g / (1 - low + math.expm1(g * days))
    existing = round(rate / g * (1 - low))
    world = World(seed=seed, start=start, signup_rate=rate, growth=g, simulated_through=start)
    rows = Rows()
    rows.add("app.plans", plan_rows(start - (PRE_HISTORY_DAYS + 30) * DAY))
    before = np.log(low + rng.random(existing) * (1 - low)) / g * DAY
    signup = np.sort(start - np.maximum(np.ceil(-before), 1).astype(np.int64))
    idx = _add_accounts(rng, world, rows, signup)
    simulate_prehistory(world, rows, signup, idx, start)
    month_to_date(world, idx, start, rng)
    return world, rows


def _add_accounts(rng: np.random.Generator, world: World, rows: Rows,
                  signup: np.ndarray) -> np.ndarray:
    columns = new_accounts(rng, signup, FIRST_ACCOUNT_ID + world.n)
    rows.add("app.accounts", {
        "account_id": columns["account_id"], "account_name": columns["account_name"],
        "owner_name": columns["owner_name"], "owner_email": columns["owner_email"],
        "user_type": np.array(USER_TYPES, dtype=object)[columns["user_type"]],
        "country": np.array(COUNTRY_CODES, dtype=object)[columns["country"]],
        "timezone": np.array(TIMEZONES, dtype=object)[columns["tz"]],
        "acquisition_channel": np.array(CHANNELS, dtype=object)[columns["channel"]],
        "signup_at": signup, "recorded_at": signup + rng.integers(1, 31, len(signup)),
    })
    return world.add_accounts(columns)


def _step(world: World, late_rate: float, bad_rate: float,
          late_hours: tuple[int, int] | None = None) -> Rows:
    """Advance the world by one day from world.simulated_through; returns the rows it made."""
    t0 = world.simulated_through
    t1 = t0 + DAY
    rng = np.random.default_rng([world.seed, t0 // HOUR])
    rows = Rows()
    life = Lifecycle(world, rng, rows)

    days_in = (t0 - world.start) / DAY
    g = world.growth
    expected = world.signup_rate / g * (math.exp(g * (days_in + 1)) - math.exp(g * days_in))
    weekend = datetime.fromtimestamp(t0 + DAY // 2, UTC).weekday() >= 5
    signup = np.sort(t0 + rng.integers(0, DAY, rng.poisson(expected * (0.75 if weekend else 1.1))))
    life.start(_add_accounts(rng, world, rows, signup), signup)

    day = simulate_day(rng, world, t0)
    life.usage, life.storage, life.peak_storage = day.usage, day.storage_at, day.peak_storage
    life.free_upgrades = day.free_upgrades
    life.run(t1)
    a = world.acct
    everyone = np.flatnonzero(a["status"] != NONE)
    audio, sessions, exports = day.usage(everyone, a["period_start"][everyone],
                                         np.full(len(everyone), t1))
    a["use_audio"][everyone] += audio
    a["use_sessions"][everyone] += sessions
    a["use_exports"][everyone] += exports

    for table, happened, time_column, negative_column, data in (
        ("app.sessions", "ended_at", "started_at", "audio_minutes", day.sessions),
        ("app.usage_events", "occurred_at", "occurred_at", "quantity", day.events),
        ("app.storage_readings", "measured_at", "measured_at", "storage_used_mb", day.readings),
    ):
        since = None if late_hours is None else data[time_column]
        data["recorded_at"] = delay(rng, data["recorded_at"], data[happened], late_rate,
                                    late_hours or LATE_HOURS, since)
        rows.add(table, corrupt(rng, data, time_column=time_column,
                                negative_column=negative_column, bad_rate=bad_rate))
    world.simulated_through = t1
    return rows


def _advance(conn: psycopg.Connection, world: World, until: int, late_rate: float,
             bad_rate: float, initial: Rows | None = None,
             late_hours: tuple[int, int] | None = None) -> dict[str, int]:
    """Write pending rows now due, then simulate and write steps until `until` is covered."""
    counts: Counter[str] = Counter(dict.fromkeys(COUNT_KEYS, 0))
    due: dict[str, list[tuple[bytes, int]]] = defaultdict(list)
    for table, row_count, tuples in conn.execute(
        "DELETE FROM app.simulation_pending WHERE recorded_hour <= %s "
        "RETURNING table_name, row_count, tuples", (_dt(until),)).fetchall():
        due[table].append((tuples, row_count))
    for table in tables.ALL:
        if due[table]:
            counts.update(write_rows(conn, table, b"".join(t for t, _ in due[table]),
                                 sum(c for _, c in due[table])))

    batches = [initial] if initial is not None else []
    with BackgroundWriter(conn, counts) as writer:
        while batches or world.simulated_through < until:
            rows = batches.pop() if batches else _step(world, late_rate, bad_rate, late_hours)
            generated = rows.tables()
            for table in tables.ALL:
                if table not in generated:
                    continue
                data = generated[table]
                hour = -(-data["recorded_at"] // HOUR) * HOUR  # recorded in (hour - 1h, hour]
                now = hour <= until
                writer.submit(write_rows, table, encode(tables.ALL[table], take(data, now)),
                              int(now.sum()))
                for pending_hour in np.unique(hour[~now]):
                    part = take(data, hour == pending_hour)
                    writer.submit(park, table, int(pending_hour), len(part["recorded_at"]),
                                  encode(tables.ALL[table], part))
    return dict(counts)
