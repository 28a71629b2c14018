"""When each report period must exist, and which period its freshness check expects at a moment.

A report's freshness check (orchestration/defs/freshness.py) expects, at any moment, the newest
period that ended before the latest deadline passed: from a day's end until 06:30 the next
morning, the daily report due is still the day before's. Building only the newest complete
period (as `make demo` once did) leaves the due one missing in those hours, and the check fails
although every report the demo built is there. `reports_due` names both, so the demo builds what
the checks will look for.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reports.periods import Period, latest_complete_period

# How long after a period ends its report must exist: after the report schedules (04:30-04:50 UTC)
# and their delivery. Each is under a day, so the deadline is a daily cron on the period's first day.
REPORT_DEADLINE_AFTER_PERIOD = {
    "daily": timedelta(hours=6, minutes=30),
    "weekly": timedelta(hours=6, minutes=40),
    "monthly": timedelta(hours=6, minutes=50),
}
_PERIOD_START_DAYS = {"daily": "* * *", "weekly": "* * 1", "monthly": "1 * *"}  # day of month, month, weekday


def deadline_cron(kind: str) -> str:
    """The deadline as a cron string (UTC), for Dagster's time-partition freshness checks."""
    after = REPORT_DEADLINE_AFTER_PERIOD[kind]
    return f"{after.seconds % 3600 // 60} {after.seconds // 3600} {_PERIOD_START_DAYS[kind]}"


def period_due(kind: str, at: datetime) -> Period:
    """The period the freshness check of a `kind` report expects at `at`.

    Deadlines fall at a fixed time after each period's end, so the period expected after the
    latest deadline is the newest one that had ended that long before `at`.
    """
    return latest_complete_period(kind, (at.astimezone(UTC) - REPORT_DEADLINE_AFTER_PERIOD[kind]).date())


def reports_due(kind: str, at: datetime) -> list[Period]:
    """The periods to build at `at` for every check to pass: the due one, and the newest complete one."""
    latest = latest_complete_period(kind, at.astimezone(UTC).date())
    due = period_due(kind, at)
    return [due, latest] if due != latest else [latest]
