"""The retention purge does not change the business marts rebuilt whole every hour.

fct_activity_churn_monthly, fct_cohort_retention_monthly and fct_funnel_daily are rebuilt from
intermediate.int_account_activity_days (daily partitions), not from raw telemetry: after a purge
with a short retention has deleted most raw days, rebuilding them (dimensions_job) must give the
same rows. A simulated product, built through Dagster as the scheduler would.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from orchestration.operations.retention import purge_expired
from tests.usage_expectations import read
from tests.warehouse_fixtures import SimulatedHistory, WarehouseBuilder

END = pd.Timestamp("2026-03-05", tz="UTC").to_pydatetime()
DAYS = 35  # a complete month (February) and the N = 30 days of activity churn before it
HISTORY = SimulatedHistory(accounts=30, days=DAYS, seed=11, end=END)
RETENTION = 10  # with now = END: the days before 2026-02-23 are purged
MARTS = ("fct_activity_churn_monthly", "fct_cohort_retention_monthly", "fct_funnel_daily")
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def scalar(db, query: str, *params):
    return db.execute(query, params).fetchone()[0]


def snapshot(db, mart: str) -> pd.DataFrame:
    """The mart's rows in a stable order (every column is part of the sort key)."""
    frame = read(db, f"SELECT * FROM marts.{mart}")
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


@pytest.fixture(scope="module")
def built(build_warehouse: WarehouseBuilder):
    from orchestration.definitions import defs

    build_warehouse.simulated(HISTORY)
    return defs


def test_purge_then_rebuild_leaves_the_business_marts_unchanged(built, db, dagster_instance):
    cutoff = END - timedelta(days=RETENTION)
    before = {mart: snapshot(db, mart) for mart in MARTS}
    assert all(len(frame) > 0 for frame in before.values())
    # the marts do depend on the days about to be purged: activity and first sessions before the cutoff
    assert scalar(db, "SELECT count(*) FROM intermediate.int_account_activity_days WHERE activity_date < %s",
                  cutoff.date()) > 0
    assert scalar(db, "SELECT count(*) FROM marts.fct_funnel_daily WHERE signup_date < %s AND activated_accounts > 0",
                  cutoff.date()) > 0
    assert scalar(db, "SELECT sum(active_accounts) FROM marts.fct_cohort_retention_monthly "
                      "WHERE period_month < %s", cutoff.date()) > 0

    report = purge_expired(db.info.dsn, RETENTION, now=END)
    assert report.days_held_back == 0 and report.days_purged == DAYS - RETENTION
    assert report.removed["raw.sessions"] > 0 and report.removed["raw.usage_events"] > 0
    assert scalar(db, "SELECT count(*) FROM raw.sessions WHERE started_at < %s", cutoff) == 0
    assert scalar(db, "SELECT count(*) FROM raw.usage_events WHERE occurred_at < %s", cutoff) == 0

    assert built.resolve_job_def("dimensions_job").execute_in_process(
        instance=dagster_instance, run_config=QUIET).success
    for mart in MARTS:
        pd.testing.assert_frame_equal(snapshot(db, mart), before[mart], obj=mart)


def test_a_day_whose_activity_is_not_rolled_up_is_held_back(built, db):
    """Usage rolled up but activity rows missing (e.g. the activity model failed): not purged."""
    day = (END - timedelta(days=RETENTION - 2)).date()  # kept by the purge above
    removed = scalar(db, "SELECT count(*) FROM intermediate.int_account_activity_days WHERE activity_date = %s", day)
    assert removed > 0
    db.execute("DELETE FROM intermediate.int_account_activity_days WHERE activity_date = %s", (day,))
    report = purge_expired(db.info.dsn, RETENTION - 3, now=END)
    assert report.days_held_back == 1 and report.days_purged == 2
    assert scalar(db, "SELECT count(*) FROM raw.sessions WHERE started_at::date = %s", day) > 0
