"""The platform-level model assets run on a simulated warehouse and write sound results."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from orchestration.ml.bgnbd import probability_alive
from tests.usage_expectations import read, valid_events, valid_sessions
from tests.warehouse_fixtures import SimulatedHistory, WarehouseBuilder

END = pd.Timestamp("2026-03-15", tz="UTC").to_pydatetime()
DAYS = 30
HISTORY = SimulatedHistory(accounts=60, days=DAYS, seed=21, end=END)


@pytest.fixture(scope="module")
def built(build_warehouse: WarehouseBuilder):
    from orchestration.definitions import defs

    build_warehouse.simulated(HISTORY)
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    for _ in range(2):  # the second run must leave the same tables
        assert defs.resolve_job_def("ml_job").execute_in_process(
            instance=build_warehouse.instance, run_config=quiet).success


def test_forecasts_have_ordered_intervals_and_a_measured_model(built, db):
    forecasts = read(db, "SELECT * FROM ml.forecasts")
    assert {"signups_daily", "mrr_monthly", "usage_daily:sessions_created"} <= set(forecasts.series_id)
    f = forecasts
    assert ((f.yhat_lower <= f.yhat_lower_80 + 1e-9) & (f.yhat_lower_80 <= f.yhat + 1e-9)
            & (f.yhat <= f.yhat_upper_80 + 1e-9) & (f.yhat_upper_80 <= f.yhat_upper + 1e-9)).all()
    assert (f.groupby("series_id").size()[["signups_daily", "usage_daily:api_calls"]] == 30).all()
    backtests = read(db, "SELECT * FROM ml.forecast_backtests")
    assert (backtests.groupby("series_id").chosen.sum() == 1).all()
    daily = backtests[backtests.series_id == "usage_daily:sessions_created"]
    assert "seasonal_naive" in set(daily.model) and daily.mase.notna().all()
    chosen = daily[daily.chosen].iloc[0]
    assert chosen.mase <= daily[daily.model == "seasonal_naive"].mase.iloc[0]


def test_platform_usage_anomalies_cover_every_day(built, db):
    anomalies = read(db, "SELECT * FROM ml.usage_anomalies")
    days = read(db, "SELECT count(DISTINCT usage_date) AS n FROM marts.fct_usage_daily").n[0]
    assert (anomalies.groupby("metric").size() == days).all()


def test_hourly_usage_anomalies_score_the_last_four_weeks_with_a_daily_season(built, db):
    """Hourly platform usage has a daily cycle: the period inferred is 24 (or 168 with a weekday effect)."""
    from orchestration.defs.ml_hourly_anomalies import HISTORY_DAYS
    from orchestration.ml.anomalies import detect_anomalies

    stored = read(db, "SELECT * FROM ml.hourly_usage_anomalies ORDER BY metric, hour_start")
    hours = read(db, "SELECT min(hour_start) AS first, max(hour_start) AS last FROM marts.fct_usage_hourly").iloc[0]
    span = min(HISTORY_DAYS * 24, int((hours["last"] - hours["first"]) / timedelta(hours=1)) + 1)
    assert (stored.groupby("metric").size() == span).all() and stored.metric.nunique() == 4
    sessions = stored[stored.metric == "sessions_created"]
    assert set(sessions.season_length) <= {24, 168}, set(sessions.season_length)
    values = pd.Series(sessions.value.to_numpy(), index=pd.DatetimeIndex(sessions.hour_start).tz_convert(None))
    recomputed = detect_anomalies(values)
    np.testing.assert_allclose(sessions.score.to_numpy(), recomputed.score.to_numpy(), equal_nan=True)


def test_probability_alive_matches_independent_activity_summary(built, db):
    sessions, events = valid_sessions(db), valid_events(db)
    active = pd.concat([
        sessions.assign(day=sessions.started_at.dt.floor("D"))[["account_id", "day"]],
        events[events.event_type.isin(["api_call", "export"])].assign(
            day=lambda e: e.occurred_at.dt.floor("D"))[["account_id", "day"]],
    ]).drop_duplicates()
    start = pd.Timestamp(END - timedelta(days=DAYS))
    active = active[(active.day >= start) & (active.day < pd.Timestamp(END))]
    stored = read(db, "SELECT * FROM ml.activity_alive").set_index("account_id").sort_index()
    cutoff = pd.Timestamp(stored.cutoff_date.iloc[0], tz="UTC")
    g = active.groupby("account_id").day
    expected = pd.DataFrame({
        "frequency": g.nunique() - 1,
        "recency_days": (g.max() - g.min()).dt.days,
        "age_days": (cutoff - g.min()).dt.days,
    }).sort_index()
    pd.testing.assert_frame_equal(stored[["frequency", "recency_days", "age_days"]].astype("int64"),
                                  expected.astype("int64"), check_names=False)
    fit = read(db, "SELECT r, alpha, a, b FROM ml.bgnbd_fits").iloc[0]
    recomputed = probability_alive(tuple(fit), expected.frequency, expected.recency_days, expected.age_days)
    assert np.allclose(stored.probability_alive.to_numpy(), recomputed)
    assert stored.probability_alive.between(0, 1).all()
