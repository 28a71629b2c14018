"""Report schedules wait for the rollups a period reads, then request the period once (issue 12).

A daily report used to be requested at 04:30 whatever the state of its day's rollup: a day whose
hourly runs failed was mailed with hours missing, and never again. The schedules now tick hourly
and skip, naming what they wait for, until every time-partitioned upstream partition of the period
is materialized; the request carries a run key, which the daemon launches once.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest

from orchestration.definitions import defs

DAILY_MART = dg.AssetKey(["marts", "fct_usage_daily"])
MONTHLY_MART = dg.AssetKey(["marts", "fct_usage_monthly"])


@pytest.fixture()
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def tick(instance: dg.DagsterInstance, name: str, at: datetime) -> dg.RunRequest | str:
    schedule = defs.get_schedule_def(name)
    data = schedule.evaluate_tick(dg.build_schedule_context(instance=instance, scheduled_execution_time=at,
                                                            repository_def=defs.get_repository_def()))
    if data.run_requests:
        [request] = data.run_requests
        return request
    return data.skip_message


def materialize(instance: dg.DagsterInstance, key: dg.AssetKey, partitions: list[str]) -> None:
    for partition in partitions:
        instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))


def test_a_daily_report_waits_for_its_day_then_is_requested_once_per_period(instance):
    due = datetime(2026, 11, 21, 4, 30, tzinfo=UTC)
    assert defs.get_schedule_def("reports_daily_schedule").cron_schedule == "30 4-23 * * *"

    waiting = tick(instance, "reports_daily_schedule", due)
    assert waiting == "daily reports for 2026-11-20 wait for: marts/fct_usage_daily 2026-11-20 (missing)"

    materialize(instance, DAILY_MART, ["2026-11-20"])
    request = tick(instance, "reports_daily_schedule", due.replace(hour=5))
    assert (request.partition_key, request.run_key) == ("2026-11-20", "daily:2026-11-20")
    # a later tick of the same day asks for the same run key: the daemon does not launch it again
    assert tick(instance, "reports_daily_schedule", due.replace(hour=9)).run_key == "daily:2026-11-20"


def test_a_monthly_report_waits_for_every_day_and_the_month(instance):
    due = datetime(2026, 12, 1, 4, 50, tzinfo=UTC)
    days = [f"2026-11-{d:02d}" for d in range(1, 31)]
    materialize(instance, DAILY_MART, days[:27])

    waiting = tick(instance, "reports_monthly_schedule", due)
    assert waiting.startswith("monthly reports for 2026-11-01 wait for: ")
    assert "marts/fct_usage_daily 2026-11-28, 2026-11-29, 2026-11-30 (missing)" in waiting
    assert "marts/fct_usage_monthly 2026-11-01 (missing)" in waiting

    materialize(instance, DAILY_MART, days[27:])
    materialize(instance, MONTHLY_MART, ["2026-11-01"])
    # the month is still due on later days of December (it ticks daily until the period is sent)
    request = tick(instance, "reports_monthly_schedule", due.replace(day=3, hour=7))
    assert (request.partition_key, request.run_key) == ("2026-11-01", "monthly:2026-11-01")
