"""A row recorded after its hour was snapshotted is counted exactly once after the next tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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


def test_late_row_is_counted_once_after_the_next_tick(extracted, warehouse_url, db, monkeypatch, tmp_path):
    import dagster as dg

    from orchestration.defs.resources import SourceResource, WarehouseResource
    from orchestration.defs.schedules import hourly_snapshot_schedule

    defs = extracted
    assert sessions_at(db, "2026-03-10 02:00+00") == (0, 1)
    # Recorded now, long after hour 02:00 was extracted.
    add_session(db, 2, 1, "2026-03-10 02:15+00", "2026-03-10 02:45+00", recorded="now")

    monkeypatch.setenv("LATE_DATA_LOOKBACK_HOURS", "5")
    resources = {"warehouse": WarehouseResource(), "source": SourceResource()}
    # The tick also reads the instance's failed runs: a persistent instance, as the daemon has (a
    # schedule context binding resources keeps only an instance's reference; an ephemeral one has none).
    with dg.DagsterInstance.local_temp(tempdir=str(tmp_path)) as instance:
        request = hourly_snapshot_schedule(dg.build_schedule_context(
            instance=instance, scheduled_execution_time=TICK, resources=resources))
        assert request.tags["dagster/asset_partition_range_start"] == "2026-03-10-02:00"
        assert request.tags["dagster/asset_partition_range_end"] == "2026-03-10-05:00"

        for _ in range(2):  # the tick, then a retry of the same tick: still counted once
            assert defs.resolve_job_def("hourly_snapshot_job").execute_in_process(
                instance=instance, tags=request.tags).success
            assert defs.resolve_job_def("daily_rollup_job").execute_in_process(
                partition_key="2026-03-10", instance=instance).success
            assert sessions_at(db, "2026-03-10 02:00+00") == (1, 2)

        # The next tick finds nothing stale: it only snapshots its own newest hour.
        request = hourly_snapshot_schedule(dg.build_schedule_context(
            instance=instance, scheduled_execution_time=TICK.replace(hour=7), resources=resources))
        assert request.tags["dagster/asset_partition_range_start"] == "2026-03-10-06:00"


def test_hours_of_a_failed_run_are_due_until_a_later_success_covers_them():
    from orchestration.defs.schedules import unhealed_hours

    def tags(first: str, last: str) -> dict[str, str]:
        return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}

    HOUR = timedelta(hours=1)
    killed = (False, tags("2026-10-29-06:00", "2026-10-29-09:00"))
    hour = datetime(2026, 10, 29, 6, tzinfo=UTC)
    assert unhealed_hours([killed]) == {hour + k * HOUR for k in range(4)}
    # a later tick that covered only the newest hours leaves the older ones due
    later = (True, tags("2026-10-29-08:00", "2026-10-29-10:00"))
    assert unhealed_hours([killed, later]) == {hour, hour + HOUR}
    # a success before the failure heals nothing; a single-partition UI run heals its hour
    assert unhealed_hours([later, killed]) == {hour + k * HOUR for k in range(4)}
    ui_run = (True, {"dagster/partition": "2026-10-29-06:00"})
    assert unhealed_hours([killed, later, ui_run]) == {hour + HOUR}


def test_the_hourly_tick_reruns_what_a_failed_run_left():
    """Through the instance: a failed run of the hourly job (run monitoring fails killed ones) is
    found by the schedule's query and its hours are due again."""
    import dagster as dg

    from orchestration.defs.partitions import hourly_partitions
    from orchestration.defs.schedules import hours_left_by_failed_runs

    @dg.asset(partitions_def=hourly_partitions, config_schema={"fail": bool})
    def hourly_snapshot(context) -> None:  # unannotated: with postponed annotations a local dg would not resolve
        if context.op_execution_context.op_config["fail"]:
            raise RuntimeError("killed")

    job = dg.Definitions(assets=[hourly_snapshot], jobs=[
        dg.define_asset_job("hourly_snapshot_job", selection=[hourly_snapshot])]).resolve_job_def("hourly_snapshot_job")
    first = datetime(2026, 10, 29, 0, tzinfo=UTC)
    with dg.DagsterInstance.ephemeral() as instance:
        for fail, start, end in ((True, "2026-10-29-06:00", "2026-10-29-09:00"),
                                 (False, "2026-10-29-08:00", "2026-10-29-10:00")):
            job.execute_in_process(
                instance=instance, raise_on_error=False,
                run_config={"ops": {"hourly_snapshot": {"config": {"fail": fail}}}},
                tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end})
        due = hours_left_by_failed_runs(instance, first, datetime(2026, 10, 29, 10, tzinfo=UTC))
    assert due == [datetime(2026, 10, 29, 6, tzinfo=UTC), datetime(2026, 10, 29, 7, tzinfo=UTC)]
