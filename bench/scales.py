"""Benchmark sizes. `full` is the issue's ~10M source rows over 90 days; `small` is the CI smoke test.

"Usage events" are counted as the rows of the three usage tables the hourly snapshot extracts most
of (sessions, usage_events, storage_readings): the simulator writes about 2,700 of them per account
over 90 days, so 3,700 accounts give ~10M.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Scale:
    name: str
    accounts: int
    days: int  # history backfilled, and the long history of the hourly-tick figure
    repeat: int  # runs per figure (median, min-max)
    tick_repeat: int
    seed: int = 7


SCALES = {
    "small": Scale("small", accounts=30, days=2, repeat=1, tick_repeat=1),
    "medium": Scale("medium", accounts=300, days=14, repeat=3, tick_repeat=3),
    "full": Scale("full", accounts=3700, days=90, repeat=3, tick_repeat=5),
}

# Fixed, in the past, on an hour: every run simulates the same data. 90 days before it is the
# default PARTITIONS_START (2026-01-01), so the full history lies inside the partitions.
HISTORY_END = datetime(2026, 4, 1, tzinfo=UTC)
SHORT_TICK_HISTORY_DAYS = 1


def scale(name: str) -> Scale:
    if name not in SCALES:
        raise ValueError(f"unknown SCALE {name!r}; choose one of {', '.join(SCALES)}")
    return SCALES[name]
