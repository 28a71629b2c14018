"""The time window a dbt run rebuilds, and how it reaches the models.

A partition's (or a backfill range's) window becomes DBT_WINDOW_START/DBT_WINDOW_END in dbt's
environment; the incremental strategy `window_replace` deletes and rebuilds exactly that window.
An unpartitioned run sets neither, and the macros fall back to the dbt vars window_start/window_end,
whose defaults cover all time: that is the full-refresh case.

Environment variables rather than `--vars`: dbt re-parses the whole project whenever --vars
change (every partitioned run), but only the few files that read a changed environment variable.
"""

from __future__ import annotations

from datetime import datetime

WINDOW_ENV = ("DBT_WINDOW_START", "DBT_WINDOW_END")


def dbt_window_env(start: datetime | None, end: datetime | None) -> dict[str, str]:
    if start is None or end is None:
        return {}
    if start >= end:
        raise ValueError(f"empty dbt window: start {start} is not before end {end}")
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("dbt window bounds must be timezone-aware")
    return dict(zip(WINDOW_ENV, (start.isoformat(), end.isoformat()), strict=True))


def dbt_build_args() -> list[str]:
    """`dbt build` for a run: models and data tests, not unit tests.

    Unit tests check SQL logic on fixed inputs; they belong to the test suite
    (tests/test_dbt_unit_tests.py), not to every scheduled run.
    """
    return ["build", "--exclude-resource-type", "unit_test"]
