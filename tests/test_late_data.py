"""A row recorded after its hour was snapshotted is counted exactly once after the next tick."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from tests.conftest import reset_warehouse
from tests.handmade_source import add_session, seed_accounts

TICK = datetime(2026, 3, 10, 6, 5, tzinfo=UTC)  # snapshots 05:00, the newest hour


def sessions_at(db, hour: str) -> tuple[int, int]:
    hourly = db.execute(
        "SELECT coalesce(sum(sessions_created), 0) FROM marts.fct_usage_hourly "
        "WHERE account_id = 1 AND hour_start = %s", (hour,)).fetchone()[0]
    daily = db.execute(
        "SELECT coalesce(sum(sessions_created), 0) FROM marts.fct_usage_daily "
        "WHERE account_id = 1 AND usage_date = '2026-03-10'").fetchone()[0]
    return hourly, daily


@pytest.fixture(scope="module", autouse=True)
def no_commit_margin():
    """Without the commit margin, a re-extraction's cutoff covers a row recorded just now."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SNAPSHOT_COMMIT_MARGIN_SECONDS", "0")
        yield


@pytest.fixture(scope="module")
def extracted(warehouse_url: str, dagster_instance):
    from orchestration.definitions import defs

    reset_warehouse(warehouse_url)
    with psycopg.connect(warehouse_url) as conn:
        seed_accounts(conn, signup="2026-03-10 00:00+00")  # inside the extracted range
        add_session(conn, 1, 1, "2026-03-10 01:10+00", "2026-03-10 01:20+00")
        conn.commit()
    job = defs.resolve_job_def("hourly_snapshot_job")
    assert job.execute_in_process(instance=dagster_instance, tags={
        "dagster/asset_partition_range_start": "2026-03-10-00:00",
        "dagster/asset_partition_range_end": "2026-03-10-05:00"}).success
    assert defs.resolve_job_def("daily_rollup_job").execute_in_process(
        partition_key="2026-03-10", instance=dagster_instance).success
    return defs


def test_late_row_is_counted_once_after_the_next_tick(extracted, warehouse_url, db, dagster_instance,
                                                      monkeypatch):
    import dagster as dg

    from orchestration.defs.resources import SourceResource, WarehouseResource
    from orchestration.defs.schedules import hourly_snapshot_schedule

    defs = extracted
    assert sessions_at(db, "2026-03-10 02:00+00") == (0, 1)
    # Recorded now, long after hour 02:00 was extracted.
    add_session(db, 2, 1, "2026-03-10 02:15+00", "2026-03-10 02:45+00", recorded="now")

    monkeypatch.setenv("LATE_DATA_LOOKBACK_HOURS", "5")
    context = dg.build_schedule_context(
        scheduled_execution_time=TICK,
        resources={"warehouse": WarehouseResource(), "source": SourceResource()},
    )
    request = hourly_snapshot_schedule(context)
    assert request.tags["dagster/asset_partition_range_start"] == "2026-03-10-02:00"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-03-10-05:00"

    for _ in range(2):  # the tick, then a retry of the same tick: still counted once
        assert defs.resolve_job_def("hourly_snapshot_job").execute_in_process(
            instance=dagster_instance, tags=request.tags).success
        assert defs.resolve_job_def("daily_rollup_job").execute_in_process(
            partition_key="2026-03-10", instance=dagster_instance).success
        assert sessions_at(db, "2026-03-10 02:00+00") == (1, 2)

    # The next tick finds nothing stale: it only snapshots its own newest hour.
    request = hourly_snapshot_schedule(dg.build_schedule_context(
        scheduled_execution_time=TICK.replace(hour=7),
        resources={"warehouse": WarehouseResource(), "source": SourceResource()},
    ))
    assert request.tags["dagster/asset_partition_range_start"] == "2026-03-10-06:00"
