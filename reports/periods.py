"""Report periods: a partition key of a daily, weekly or monthly schedule as a half-open window.

Partition keys are the period's first day (`YYYY-MM-DD`, as Dagster's time partitions name them);
the window is `[start, end)`, so a month ends on the first of the next month, never the 31st.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Period:
    kind: str  # daily | weekly | monthly
    start: date
    end: date  # exclusive

    @property
    def key(self) -> str:
        return self.start.isoformat()

    @property
    def label(self) -> str:
        if self.kind == "monthly":
            return self.start.strftime("%B %Y")
        if self.kind == "weekly":
            last = self.end - timedelta(days=1)
            return f"Week {self.start.isocalendar().week}, {self.start:%d %b %Y} - {last:%d %b %Y}"
        return self.start.strftime("%A %d %B %Y")

    def previous(self) -> Period:
        return period_for(self.kind, _step(self.kind, self.start, -1))


def _step(kind: str, start: date, steps: int) -> date:
    if kind == "daily":
        return start + timedelta(days=steps)
    if kind == "weekly":
        return start + timedelta(days=7 * steps)
    month = start.year * 12 + start.month - 1 + steps
    return date(month // 12, month % 12 + 1, 1)


def period_for(kind: str, key: str | date) -> Period:
    """The period of schedule `kind` starting at `key`; a clear error for a key that cannot start one."""
    if kind not in ("daily", "weekly", "monthly"):
        raise ValueError(f"unknown period kind {kind!r}; expected daily, weekly or monthly")
    try:
        start = key if isinstance(key, date) else date.fromisoformat(key)
    except ValueError as exc:
        raise ValueError(f"period {key!r} is not a date (YYYY-MM-DD)") from exc
    if kind == "monthly" and start.day != 1:
        raise ValueError(f"a monthly period starts on the 1st, got {start.isoformat()}")
    if kind == "weekly" and start.weekday() != 0:
        raise ValueError(f"a weekly period starts on a Monday, got {start.isoformat()} ({start:%A})")
    return Period(kind, start, _step(kind, start, 1))


def latest_complete_period(kind: str, today: date) -> Period:
    """The newest period of `kind` that has ended by `today` (UTC)."""
    if kind == "daily":
        start = today - timedelta(days=1)
    elif kind == "weekly":
        start = today - timedelta(days=today.weekday() + 7)
    else:
        start = _step("monthly", today.replace(day=1), -1)
    return period_for(kind, start)
