"""Which schedules fire at a simulated minute.

The daemon turns a schedule's cron string into ticks; Dagster keeps its cron iterator private, and
the platform's schedules only use plain numbers, ranges (`4-23`), lists and `*`, so a minute is
matched field by field here (minute, hour, day of month, month, day of week with Sunday 0).
"""

from __future__ import annotations

from datetime import datetime


def _field_matches(field: str, value: int) -> bool:
    if field == "*":
        return True
    for part in field.split(","):
        low, _, high = part.partition("-")
        if int(low) <= value <= int(high or low):
            return True
    return False


def cron_fires(cron: str, at: datetime) -> bool:
    """Whether a five-field cron string in UTC has a tick at minute `at` (a UTC datetime)."""
    minute, hour, day, month, weekday = cron.split()
    return (_field_matches(minute, at.minute) and _field_matches(hour, at.hour)
            and _field_matches(day, at.day) and _field_matches(month, at.month)
            and _field_matches(weekday, at.isoweekday() % 7))


def minutes_with_ticks(crons: list[str]) -> list[int]:
    """Every minute of an hour at which one of `crons` may fire (their minute fields)."""
    minutes: set[int] = set()
    for cron in crons:
        field = cron.split()[0]
        minutes |= set(range(60)) if field == "*" else {int(p) for p in field.split(",")}
    return sorted(minutes)
