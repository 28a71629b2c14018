"""Per-account forecasts, the stored anomaly evaluation and the ml asset checks, built through Dagster.

A small simulated product (40 accounts, 45 days: enough for the detector evaluation's two-week margins)
goes through every layer with `run_layers`, then `ml_job` runs twice: the second run must leave the
same rows, and every asset check must pass on both.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest

from orchestration.ml.anomaly_evaluation import DETECTORS, evaluate_on_series
from orchestration.ml.platform_series import USAGE_METRICS, daily_usage
from tests.usage_expectations import read
from tests.warehouse_fixtures import SimulatedHistory, WarehouseBuilder

END = pd.Timestamp("2026-03-15", tz="UTC").to_pydatetime()
DAYS = 45
HISTORY = SimulatedHistory(accounts=40, days=DAYS, seed=33, end=END)
TABLES = ["ml.account_usage_forecasts", "ml.account_forecast_backtests", "ml.account_forecast_families",
          "ml.anomaly_evaluations"]
ORDER = {"ml.account_usage_forecasts": "account_id, metric, usage_date",
         "ml.account_forecast_backtests": "account_id, metric, model",
         "ml.account_forecast_families": "stratum, metric, model",
         "ml.anomaly_evaluations": "metric, detector, event_kind"}


def _snapshot(url: str) -> dict[str, pd.DataFrame]:
    with psycopg.connect(url) as conn:
        return {t: read(conn, f"SELECT * FROM {t} ORDER BY {ORDER[t]}") for t in TABLES}


@pytest.fixture(scope="module")
def built(build_warehouse: WarehouseBuilder):
    from orchestration.definitions import defs

    build_warehouse.simulated(HISTORY)
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    results, snapshots = [], []
    for _ in range(2):
        result = defs.resolve_job_def("ml_job").execute_in_process(instance=build_warehouse.instance,
                                                                   run_config=quiet)
        assert result.success
        results.append(result)
        snapshots.append(_snapshot(build_warehouse.url))
    return {"results": results, "snapshots": snapshots}


def test_every_active_account_has_a_forecast_per_metric(built, db):
    forecasts = read(db, "SELECT * FROM ml.account_usage_forecasts")
    active = read(db, f"""SELECT DISTINCT account_id FROM marts.fct_usage_daily
                          WHERE {' + '.join(USAGE_METRICS)} > 0""")
    assert set(forecasts.account_id) == set(active.account_id)
    per_series = forecasts.groupby(["account_id", "metric"]).size()
    assert len(per_series) == len(active) * len(USAGE_METRICS) and (per_series == 28).all()
    last_day = read(db, "SELECT max(usage_date) AS d FROM marts.fct_usage_daily").d[0]
    assert (forecasts.forecast_origin == last_day).all()
    assert forecasts.usage_date.min() == last_day + timedelta(days=1)


def test_backtests_pick_one_model_and_never_a_worse_one(built, db):
    b = read(db, "SELECT * FROM ml.account_forecast_backtests")
    assert (b.groupby(["account_id", "metric"]).chosen.sum() == 1).all()
    measured = b[b.mase.notna()]
    base = measured[measured.model == "seasonal_naive"].set_index(["account_id", "metric"]).mase
    chosen = measured[measured.chosen].set_index(["account_id", "metric"]).mase
    assert len(chosen) > 0 and (chosen <= base.reindex(chosen.index) + 1e-12).all()
    families = read(db, "SELECT * FROM ml.account_forecast_families")
    wins = families.groupby(["stratum", "metric"]).wins.sum()
    finite = measured[np.isfinite(measured.mase)]
    backtested = finite.groupby(["stratum", "metric"]).account_id.nunique()
    assert (wins.reindex(backtested.index) == backtested).all()


def test_anomaly_evaluation_is_that_of_the_platform_series(built, db, warehouse_url):
    stored = read(db, "SELECT * FROM ml.anomaly_evaluations ORDER BY metric, detector, event_kind")
    assert len(stored) == len(USAGE_METRICS) * len(DETECTORS) * 4
    for (metric, series), detector in itertools.product(daily_usage(warehouse_url).items(), DETECTORS):
        expected = evaluate_on_series(series, detector=detector).set_index("event_kind")
        got = stored[(stored.metric == metric) & (stored.detector == detector)].set_index("event_kind")
        for column in ("n_events", "n_detected", "n_false_positives", "original_flags", "series_days"):
            assert (got[column] == expected.loc[got.index, column]).all(), (metric, column)
        pd.testing.assert_series_equal(got.event_recall, expected.loc[got.index, "event_recall"], check_dtype=False)
        assert got.evaluated_through.iloc[0] == series.index[-1].date()


def test_ml_job_is_idempotent(built):
    first, second = built["snapshots"]
    for table in TABLES:
        pd.testing.assert_frame_equal(first[table], second[table], obj=table)


def test_every_ml_asset_check_ran_and_passed(built):
    for result in built["results"]:
        evaluations = result.get_asset_check_evaluations()
        names = {e.check_name for e in evaluations}
        assert {"account_forecast_intervals_ordered", "churn_scores_cover_paying_accounts",
                "anomaly_evaluation_consistent", "forecast_one_chosen_model"} <= names
        failed = [(e.check_name, e.metadata) for e in evaluations if not e.passed]
        assert not failed


def test_checks_fail_on_broken_rows(built, db):
    from orchestration.defs.ml_checks import account_forecast_intervals_ordered, churn_scores_cover_paying_accounts
    from orchestration.defs.resources import WarehouseResource

    # The checks read through their own connection, so the damage is committed, and undone afterwards.
    tables = ["ml.account_usage_forecasts", "ml.churn_risk_scores"]
    for table in tables:
        db.execute(f"CREATE TABLE {table}_saved AS SELECT * FROM {table}")
    try:
        db.execute("""UPDATE ml.account_usage_forecasts SET yhat_upper = yhat_lower - 1
                      WHERE (account_id, metric, usage_date) IN (
                          SELECT account_id, metric, usage_date FROM ml.account_usage_forecasts
                          ORDER BY 1, 2, 3 LIMIT 3)""")
        db.execute("""DELETE FROM ml.churn_risk_scores
                      WHERE account_id = (SELECT min(account_id) FROM ml.churn_risk_scores)""")
        intervals = account_forecast_intervals_ordered(warehouse=WarehouseResource())
        coverage = churn_scores_cover_paying_accounts(warehouse=WarehouseResource())
    finally:
        for table in tables:
            db.execute(f"DELETE FROM {table}")
            db.execute(f"INSERT INTO {table} SELECT * FROM {table}_saved")
            db.execute(f"DROP TABLE {table}_saved")
    assert not intervals.passed and intervals.metadata["bad_unordered_intervals"].value == 3
    assert not coverage.passed and coverage.metadata["bad_paying_without_score"].value == 1
