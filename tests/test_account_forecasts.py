"""Per-account usage forecasts (orchestration/ml/account_forecasts.py) on a small simulated panel; no database.

The panel: accounts on two plans, daily usage with a weekly profile, Poisson noise and a per-account trend,
one idle account, one account that never exports, one account eight days old.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from orchestration.ml.account_forecasts import BASELINE, account_series, forecast_accounts
from orchestration.ml.batch_forecasting import BATCH_MODELS
from orchestration.ml.forecasting import backtest, forecast

METRICS = ["sessions_created", "exports_generated"]
WEEKDAY = np.array([1.0, 1.05, 1.08, 1.06, 0.98, 0.45, 0.35])
DAYS = 70
HORIZON = 14
END = pd.Timestamp("2026-03-14")


def _panel() -> tuple[pd.DataFrame, dict[int, str]]:
    rng = np.random.default_rng(5)
    days = pd.date_range(end=END, periods=DAYS, freq="D")
    frames, strata = [], {}
    for account_id in range(1, 13):
        level = rng.uniform(5, 40)
        growth = rng.uniform(-0.3, 0.8)
        lam = level * WEEKDAY[days.day_of_week] * (1 + growth * np.arange(DAYS) / DAYS)
        frame = pd.DataFrame({"account_id": account_id, "usage_date": days.date,
                              "sessions_created": rng.poisson(lam), "exports_generated": rng.poisson(lam / 4)})
        if account_id == 11:  # idle for the whole window
            frame[METRICS] = 0
        if account_id == 12:  # never exports
            frame["exports_generated"] = 0
        frames.append(frame)
        strata[account_id] = "pro" if account_id % 2 else "starter"
    young = pd.DataFrame({"account_id": 13, "usage_date": days[-8:].date, "sessions_created": [3, 4, 5, 2, 1, 4, 6, 5],
                          "exports_generated": [1, 0, 1, 0, 0, 1, 2, 1]})
    return pd.concat([*frames, young], ignore_index=True), strata


@pytest.fixture(scope="module")
def run():
    daily, strata = _panel()
    return forecast_accounts(daily, strata, METRICS, horizon=HORIZON, history_days=56)


def test_series_cover_active_accounts_over_the_window():
    daily, _ = _panel()
    series = account_series(daily, METRICS, history_days=56)
    accounts = {a for a, _ in series}
    assert 11 not in accounts and {1, 12, 13} <= accounts
    assert len(series[(1, "sessions_created")]) == 56 and series[(1, "sessions_created")].index.freqstr == "D"
    assert len(series[(13, "sessions_created")]) == 8
    with pytest.raises(ValueError, match="api_calls"):
        account_series(daily, ["api_calls"], 56)


def test_every_series_has_a_forecast_with_ordered_non_negative_intervals(run):
    f = run.forecasts
    per_series = f.groupby(["account_id", "metric"]).size()
    assert len(per_series) == 12 * len(METRICS)  # accounts 1-10, 12, 13; not the idle one
    assert (per_series == HORIZON).all()
    assert ((f.yhat_lower <= f.yhat_lower_80 + 1e-9) & (f.yhat_lower_80 <= f.yhat + 1e-9)
            & (f.yhat <= f.yhat_upper_80 + 1e-9) & (f.yhat_upper_80 <= f.yhat_upper + 1e-9)).all()
    assert (f.yhat_lower >= 0).all()
    assert f.usage_date.min() == (END + pd.Timedelta(days=1)).date()


def test_constant_and_short_series_are_forecast_without_backtest(run):
    never = run.forecasts[(run.forecasts.account_id == 12) & (run.forecasts.metric == "exports_generated")]
    assert (never[["yhat", "yhat_lower", "yhat_upper"]] == 0).all().all()
    young = run.backtests[run.backtests.account_id == 13]
    assert young.mase.isna().all() and young.model_reason.str.startswith("short series").all()


def test_each_series_backtests_every_model_and_keeps_the_baseline_unless_beaten(run):
    b = run.backtests
    assert (b.groupby(["account_id", "metric"]).chosen.sum() == 1).all()
    measured = b[b.mase.notna()]
    for key, series in measured.groupby(["account_id", "metric"]):
        chosen = series[series.chosen].iloc[0]
        base = series[series.model == BASELINE].iloc[0]
        if key == (12, "exports_generated"):  # constant: the baseline alone, as forecast() reports it
            assert list(series.model) == [BASELINE] and chosen.model_reason.startswith("constant series")
            continue
        assert set(series.model) == set(BATCH_MODELS), key
        if chosen.model == BASELINE:
            assert "no candidate beat seasonal_naive" in chosen.model_reason
            assert (series.mase >= base.mase).all()
        else:
            assert chosen.mase < base.mase and chosen.mase == series.mase.min()
    assert set(measured[measured.chosen].model) - {BASELINE}, "some series should beat seasonal naive"


def test_families_summarise_every_backtested_series(run):
    fam = run.families
    measured = run.backtests[run.backtests.mase.notna()]
    assert (fam.groupby(["stratum", "metric"]).chosen.sum() == 1).all()
    for (stratum, metric), group in fam.groupby(["stratum", "metric"]):
        own = measured[(measured.stratum == stratum) & (measured.metric == metric)]
        assert group.wins.sum() == own.groupby("account_id").ngroups
        if own.empty:  # e.g. only an account too young to backtest: seasonal naive, no evidence
            assert list(group.model) == [BASELINE] and (group.series_sampled == 0).all()
            continue
        for row in group.itertuples():
            assert row.median_mase == pytest.approx(own[own.model == row.model].mase.median())
        chosen = group[group.chosen].iloc[0]
        base = group[group.model == BASELINE].median_mase.iloc[0]
        assert chosen.model == BASELINE or chosen.median_mase == group.median_mase.min() < base


def test_batch_backtest_and_forecast_match_forecast_one_series_at_a_time(run):
    """Seasonal naive and the linear model are the same models in both paths: same figures, same forecast."""
    daily, _ = _panel()
    all_series = account_series(daily, METRICS, history_days=56)
    for account_id in (3, 4):
        series = all_series[(account_id, "sessions_created")]
        full = backtest(series, HORIZON, 7).set_index("model")
        stored = run.backtests[(run.backtests.account_id == account_id)
                               & (run.backtests.metric == "sessions_created")].set_index("model")
        for model in (BASELINE, "linear_trend_season"):
            for column in ("mase", "smape", "coverage_80", "coverage_95"):
                assert stored.loc[model, column] == pytest.approx(full.loc[model, column]), (model, column)
        chosen = stored[stored.chosen].index[0]
        if chosen != "ets":  # the batch ETS is a grid-fitted ETS(A,Ad,A), not statsmodels' Holt-Winters
            one = forecast(series, HORIZON, 7, non_negative=True, candidates=[chosen] if chosen != BASELINE else ())
            got = run.forecasts[(run.forecasts.account_id == account_id)
                                & (run.forecasts.metric == "sessions_created")]
            np.testing.assert_allclose(got.yhat_upper.to_numpy(), one.yhat_upper.to_numpy(), rtol=1e-9)
    assert run.timings["series"] == 24 and run.timings["seconds_per_series"] > 0


def test_candidates_are_validated_and_bound_the_backtest():
    daily, _ = _panel()
    series = account_series(daily, METRICS, history_days=56)[(1, "sessions_created")]
    assert list(forecast(series, 7, 7, candidates=()).attrs["backtest"].model) == [BASELINE]
    assert list(backtest(series, 7, 7, candidates=["theta"]).model) == [BASELINE, "theta"]
    with pytest.raises(ValueError, match="unknown candidate"):
        forecast(series, 7, 7, candidates=["prophet"])
    with pytest.raises(ValueError, match="sequence of model names"):
        forecast(series, 7, 7, candidates="ets")


def test_a_panel_of_only_short_series_is_forecast_one_by_one():
    """A two-day history (the bench's small scale): no series for the batch, every one through forecast()."""
    daily, strata = _panel()
    recent = daily[pd.to_datetime(daily.usage_date) > END - pd.Timedelta(days=2)]
    run = forecast_accounts(recent, strata, METRICS, horizon=3, history_days=56)
    assert run.timings["batched_series"] == 0 and run.timings["single_series"] == run.timings["series"] > 0
    assert (run.forecasts.groupby(["account_id", "metric"]).size() == 3).all()
