"""Where the demo's simulated history starts, so that the partitions start where the data does.

Every partitioned asset starts at PARTITIONS_START (orchestration/settings.py). The demo's history
starts at 00:00 UTC on the 1st of the month `--days` days back (so it holds at least `--days` days,
and its first month is whole: the monthly rollups and reports need every day of a month), or on
PARTITIONS_START when that is set. A new simulation records its start under LOCAL_DIR, which
the settings read, before anything loads the definitions; later demos only append activity and
keep it, so the partition set does not move from one day to the next.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta

import psycopg

from orchestration.settings import RECORDED_PARTITIONS_START, get_settings, record_partitions_start

DAY = timedelta(days=1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def history_start(now: datetime, days: int) -> datetime:
    """00:00 UTC of the day a new simulated history starts (PARTITIONS_START when set)."""
    if days < 1:
        raise ValueError(f"--days must be at least 1, got {days}")
    configured = os.environ.get("PARTITIONS_START")
    if configured:
        start = _midnight(date.fromisoformat(get_settings().partitions_start))
        if start > _midnight(now.astimezone(UTC).date()) - DAY:
            raise ValueError(f"PARTITIONS_START={configured} leaves no whole day of history before "
                             f"{now:%Y-%m-%d %H:%M} UTC: unset it (the demo then starts {days} days back) "
                             "or set an earlier date")
        return start
    return _midnight((now.astimezone(UTC) - days * DAY).date().replace(day=1))


def prepare_history(now: datetime, days: int, fresh: bool) -> tuple[datetime, bool]:
    """(start of the demo's history, whether to simulate it afresh).

    A new history's start is computed and recorded; an existing one keeps the start it recorded. A
    source simulated before starts were recorded is simulated afresh. Call this before the
    definitions are loaded (in this process or by a UI the demo starts): they read the partitions'
    start once, when imported.
    """
    settings = get_settings()
    recorded = os.environ.get("PARTITIONS_START") or (settings.local_dir / RECORDED_PARTITIONS_START).is_file()
    if not fresh and recorded:
        return _midnight(date.fromisoformat(settings.partitions_start)), False
    start = history_start(now, days)
    if not os.environ.get("PARTITIONS_START"):
        record_partitions_start(settings.local_dir, start.date())
    return start, True


def simulate_demo_history(conn: psycopg.Connection, *, accounts: int, seed: int, start: datetime,
                          now: datetime) -> dict[str, int]:
    """Simulate whole days from `start` to today's 00:00 UTC, then append activity up to `now`.

    The simulator's history ends where it is told and starts whole days before; ending it at
    midnight puts its start on `start`, and the append (the same code path the hourly simulator
    job uses) brings the source up to the current hour.
    """
    from orchestration.source.simulator import append_activity, simulate_history

    today = _midnight(now.astimezone(UTC).date())
    written = simulate_history(conn, accounts=accounts, days=(today - start) // DAY, seed=seed, end=today)
    appended = append_activity(conn, until=now)
    return {key: count + appended.get(key, 0) for key, count in written.items()}
