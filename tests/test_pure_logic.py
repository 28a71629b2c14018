"""Fast unit tests of the pure functions behind windows and late-data detection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestration.defs.dbt_window import dbt_build_args, dbt_window_env
from orchestration.snapshots.late_data import range_to_extract, stale_hours

H0 = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_window_env_for_a_partition_and_a_range():
    assert dbt_window_env(H0, H0 + HOUR) == {
        "DBT_WINDOW_START": "2026-03-01T00:00:00+00:00", "DBT_WINDOW_END": "2026-03-01T01:00:00+00:00"}
    assert dbt_window_env(H0, H0 + 90 * 24 * HOUR)["DBT_WINDOW_END"] == "2026-05-30T00:00:00+00:00"
    assert dbt_build_args() == ["build", "--exclude-resource-type", "unit_test"]


def test_unpartitioned_run_is_a_full_refresh():
    assert dbt_window_env(None, None) == {}


@pytest.mark.parametrize("start,end", [(H0, H0), (H0 + HOUR, H0)])
def test_empty_window_is_refused(start, end):
    with pytest.raises(ValueError, match="empty dbt window"):
        dbt_window_env(start, end)


def test_naive_window_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        dbt_window_env(H0.replace(tzinfo=None), (H0 + HOUR).replace(tzinfo=None))


def test_stale_hours():
    hours = [H0 + i * HOUR for i in range(4)]
    cutoffs = {(t, h): h + 2 * HOUR for t in ("a", "b") for h in hours[:3]}  # hour 3 never extracted
    latest = {("a", hours[0]): hours[0] + HOUR, ("b", hours[1]): hours[1] + 3 * HOUR}
    assert stale_hours(hours, cutoffs, latest, ["a", "b"]) == [hours[1], hours[3]]


def test_range_to_extract_spans_oldest_stale_to_newest():
    assert range_to_extract([H0 + HOUR], H0 + 5 * HOUR) == (H0 + HOUR, H0 + 6 * HOUR)
    assert range_to_extract([], H0 + 5 * HOUR) == (H0 + 5 * HOUR, H0 + 6 * HOUR)
