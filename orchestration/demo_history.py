"""Where the demo's simulated history starts, so that the partitions start where the data does.

Every partitioned asset starts at PARTITIONS_START, else at the start the demo recorded under
LOCAL_DIR (orchestration/settings.py). A new demo history starts at 00:00 UTC on the 1st of the
month `--days` days back (so it holds at least `--days` days, and its first month is whole: the
monthly rollups and reports need every day of a month). The demo records that start before
anything loads the definitions; later demos only append activity and keep it, so the partition
set does not move from one day to the next.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import psycopg

from orchestration.settings import get_settings, record_partitions_start, recorded_partitions_start

DAY = timedelta(days=1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def history_start(now: datetime, days: int) -> datetime:
    """00:00 UTC on the 1st of the month `days` days before `now`: where a new history starts."""
    if days < 1:
        raise ValueError(f"--days must be at least 1, got {days}")
    return _midnight((now.astimezone(UTC) - days * DAY).date().replace(day=1))


def prepare_history(now: datetime, days: int, fresh: bool) -> tuple[datetime, bool]:
    """(start of the demo's history, whether to simulate it afresh).

    A new history's start is computed and recorded; an existing one keeps the start it recorded (a
    source simulated before starts were recorded is simulated afresh). PARTITIONS_START, when set,
    wins over the recorded start and must not fall after the history's. Call this before the
    definitions are loaded (in this process or by a UI the demo starts): they read the partitions'
    start once, when imported.
    """
    settings = get_settings()
    recorded = recorded_partitions_start(settings.local_dir)
    if fresh or recorded is None:
        start, fresh = history_start(now, days), True
    else:
        start = _midnight(recorded)
    configured = date.fromisoformat(settings.partitions_start)
    if configured > start.date():
        raise ValueError(f"PARTITIONS_START={configured} is after the demo's history start ({start:%Y-%m-%d}), "
                         "so its first hours could not be snapshotted: unset it for the demo, or set it no later")
    if fresh:
        record_partitions_start(settings.local_dir, start.date())
    return start, fresh


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
