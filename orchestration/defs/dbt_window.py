"""The dbt variables that tell a model which time window a run rebuilds.

A partition's (or a backfill range's) window becomes window_start/window_end; the incremental
strategy `window_replace` deletes and rebuilds exactly that window. An unpartitioned run passes
nothing, and the models' defaults cover all time: that is the full-refresh case.
"""

from __future__ import annotations

import json
from datetime import datetime


def dbt_window_vars(start: datetime | None, end: datetime | None) -> dict[str, str]:
    if start is None or end is None:
        return {}
    if start >= end:
        raise ValueError(f"empty dbt window: start {start} is not before end {end}")
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("dbt window bounds must be timezone-aware")
    return {"window_start": start.isoformat(), "window_end": end.isoformat()}


def dbt_build_args(start: datetime | None, end: datetime | None) -> list[str]:
    """`dbt build` for a run: models and data tests, not unit tests.

    Unit tests check SQL logic on fixed inputs; they belong to the test suite
    (tests/test_dbt_unit_tests.py), not to every scheduled run.
    """
    window = dbt_window_vars(start, end)
    args = ["build", "--exclude-resource-type", "unit_test"]
    return [*args, "--vars", json.dumps(window)] if window else args
