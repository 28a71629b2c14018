"""Rollup automation (orchestration/defs/dbt_models.py `follows_upstream`) over the real definitions.

Issue 12, reproductions 1 and 2: a month was never requested at month end, and an hour backfilled
weeks later never reached its day. Materializations are reported to a throwaway instance; the
daemon's own evaluation (dg.evaluate_automation_conditions) decides what it would request.
No warehouse is needed: nothing runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from orchestration.definitions import defs
from orchestration.defs.dbt_models import dbt_daily_models, dbt_monthly_models

DAILY = sorted(dbt_daily_models.keys)
MONTHLY = sorted(dbt_monthly_models.keys)
# The hourly partitions the daily models read (every parent of a daily model).
HOURLY = sorted({parent for key in DAILY for parent in defs.resolve_asset_graph().get(key).parent_keys} - set(DAILY))
ROLLUPS = dg.AssetSelection.assets(*DAILY, *MONTHLY)


class Daemon:
    """The automation sensor's evaluation, tick by tick, with its cursor carried over."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance
        self.cursor = None

    def tick(self, at: datetime) -> dict[str, set[str]]:
        """Rollup partitions requested at `at`, by asset (assets with none left out)."""
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=self.instance, asset_selection=ROLLUPS, evaluation_time=at, cursor=self.cursor)
        self.cursor = result.cursor
        requested = {key.to_user_string(): set(result.get_requested_partitions(key)) for key in DAILY + MONTHLY}
        return {name: keys for name, keys in requested.items() if keys}


def materialize(instance: dg.DagsterInstance, keys: list[dg.AssetKey], partitions: list[str]) -> None:
    for partition in partitions:
        for key in keys:
            instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))


def hours(day: str) -> list[str]:
    return [f"{day}-{hour:02d}:00" for hour in range(24)]


def days(first: str, last: str) -> list[str]:
    start, end = datetime.fromisoformat(first), datetime.fromisoformat(last)
    return [(start + timedelta(days=n)).strftime("%Y-%m-%d") for n in range((end - start).days + 1)]


def at(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=UTC)


def daily(*day_keys: str) -> dict[str, set[str]]:
    return {key.to_user_string(): set(day_keys) for key in DAILY}


def monthly(*month_keys: str) -> dict[str, set[str]]:
    return {key.to_user_string(): set(month_keys) for key in MONTHLY}


@pytest.fixture()
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def test_month_is_requested_when_it_ends(instance):
    """Reproduction 1: every November day built; at Dec 1 00:30 the November month is requested."""
    materialize(instance, DAILY, days("2026-11-01", "2026-11-30"))
    daemon = Daemon(instance)
    assert daemon.tick(at("2026-12-01 00:30")) == monthly("2026-11-01")
    assert daemon.tick(at("2026-12-01 03:00")) == {}  # requested once, not on every tick
    assert daemon.tick(at("2026-12-02 03:00")) == {}


def test_month_follows_its_last_day(instance):
    """In steady state the month is requested when its last day, built after midnight, lands."""
    materialize(instance, DAILY, days("2026-11-01", "2026-11-29"))
    daemon = Daemon(instance)
    assert daemon.tick(at("2026-11-30 23:30")) == {}  # November has not ended: no month partition yet
    assert daemon.tick(at("2026-12-01 00:10")) == {}  # its last day is missing
    materialize(instance, DAILY, ["2026-11-30"])
    assert daemon.tick(at("2026-12-01 00:30")) == monthly("2026-11-01")


def test_an_old_hour_reaches_its_day_then_its_month(instance):
    """Reproduction 2: an hour of 2026-11-20 re-extracted on Dec 2 rebuilds that day, then November."""
    materialize(instance, HOURLY, hours("2026-11-20"))
    materialize(instance, DAILY, days("2026-11-01", "2026-11-30"))
    materialize(instance, MONTHLY, ["2026-11-01"])
    daemon = Daemon(instance)
    assert daemon.tick(at("2026-12-02 03:00")) == {}  # all built: nothing to do

    materialize(instance, HOURLY, ["2026-11-20-13:00"])  # a UI backfill of one hour, 12 days late
    # the month waits for its day, so it is built once, from the rebuilt day
    assert daemon.tick(at("2026-12-02 03:05")) == daily("2026-11-20")
    assert daemon.tick(at("2026-12-02 03:10")) == {}  # the day's run has not finished

    materialize(instance, DAILY, ["2026-11-20"])
    assert daemon.tick(at("2026-12-02 03:15")) == monthly("2026-11-01")
    materialize(instance, MONTHLY, ["2026-11-01"])
    assert daemon.tick(at("2026-12-02 03:20")) == {}  # quiet: no change, no request


def test_a_day_waits_for_its_last_hour(instance):
    """A day whose period ended is requested once its hours exist, not before."""
    materialize(instance, HOURLY, hours("2026-11-30")[:-1])
    daemon = Daemon(instance)
    assert daemon.tick(at("2026-12-01 00:02")) == {}  # hour 23:00 not extracted yet
    materialize(instance, HOURLY, ["2026-11-30-23:00"])
    assert daemon.tick(at("2026-12-01 00:10")) == daily("2026-11-30")


def test_first_evaluation_over_a_long_history_requests_only_what_is_missing_and_ready(instance):
    """A fresh daemon over history since 2026-01-01 does not request that history again.

    Days and months already built are not missing; older periods whose hours were never extracted
    are missing but not ready. The one day missing with its hours present is requested, and its
    month follows it once it is built.
    """
    materialize(instance, DAILY, days("2026-01-01", "2026-11-29"))
    materialize(instance, MONTHLY, [f"2026-{month:02d}-01" for month in range(1, 11)])
    materialize(instance, HOURLY, hours("2026-11-30"))
    daemon = Daemon(instance)
    assert daemon.tick(at("2026-12-01 00:30")) == daily("2026-11-30")
    materialize(instance, DAILY, ["2026-11-30"])
    assert daemon.tick(at("2026-12-01 00:45")) == monthly("2026-11-01")
    assert daemon.tick(at("2026-12-01 01:00")) == {}
