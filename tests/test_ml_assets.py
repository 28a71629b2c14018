"""The platform-level model assets run on a simulated warehouse and write sound results."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest

from orchestration.ml.bgnbd import probability_alive
from tests.conftest import reset_warehouse
from tests.usage_expectations import read, valid_events, valid_sessions

END = pd.Timestamp("2026-03-15", tz="UTC").to_pydatetime()
DAYS = 30


@pytest.fixture(scope="module")
def built(warehouse_url: str, dagster_instance):
    from orchestration.definitions import defs
    from orchestration.pipeline import run_layers
    from orchestration.source.simulator import apply_source_schema, simulate_history

    reset_warehouse(warehouse_url)
    with psycopg.connect(warehouse_url) as conn:
        apply_source_schema(conn)
        simulate_history(conn, accounts=60, days=DAYS, seed=21, end=END)
        conn.commit()
    runs = run_layers(defs, dagster_instance, END - timedelta(days=DAYS), END)
    assert all(r.success for r in runs), runs
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    for _ in range(2):  # the second run must leave the same tables
        assert defs.resolve_job_def("ml_job").execute_in_process(
            instance=dagster_instance, run_config=quiet).success


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
