"""Per-account usage forecasts (orchestration/ml/account_forecasts.py) on a small simulated panel; no database.

The panel: accounts on two plans, daily usage with a weekly profile, Poisson noise and a per-account trend,
one idle account, one account that never exports, one account eight days old.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from orchestration.ml.account_forecasts import BASELINE, account_series, forecast_accounts
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
    return forecast_accounts(daily, strata, METRICS, horizon=HORIZON, history_days=56, sample_per_stratum=3)


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


def test_each_series_backtests_seasonal_naive_and_its_strata_family_only(run):
    b = run.backtests
    assert (b.groupby(["account_id", "metric"]).chosen.sum() == 1).all()
    family = run.families[run.families.chosen].set_index(["stratum", "metric"]).model
    measured = b[b.mase.notna()]
    for (stratum, metric), models in measured.groupby(["stratum", "metric"]).model:
        assert set(models) <= {BASELINE, family[(stratum, metric)]}
    # the chosen model beats seasonal naive on its own series, or seasonal naive is kept and the reason says so
    for _, series in measured.groupby(["account_id", "metric"]):
        chosen = series[series.chosen].iloc[0]
        base = series[series.model == BASELINE].iloc[0]
        if chosen.model == BASELINE:
            assert "no candidate beat seasonal_naive" in chosen.model_reason or len(series) == 1
        else:
            assert chosen.mase < base.mase


def test_family_is_the_lowest_median_mase_of_a_bounded_sample(run):
    fam = run.families
    assert (fam.groupby(["stratum", "metric"]).chosen.sum() == 1).all()
    assert (fam.series_sampled <= 3 * 2).all()  # a stratum's own sample, or both strata pooled
    for _, group in fam.groupby(["stratum", "metric"]):
        chosen = group[group.chosen].iloc[0]
        best = group.sort_values("median_mase").iloc[0]
        base = group[group.model == BASELINE].median_mase.iloc[0]
        if chosen.model == BASELINE:
            assert best.model == BASELINE or best.median_mase >= base
        else:
            assert chosen.model == best.model and chosen.median_mase < base


def test_bounded_backtest_measures_the_same_baseline_as_the_full_one(run):
    daily, _ = _panel()
    series = account_series(daily, METRICS, history_days=56)[(3, "sessions_created")]
    full = backtest(series, HORIZON, 7).set_index("model")
    stored = run.backtests[(run.backtests.account_id == 3) & (run.backtests.metric == "sessions_created")]
    base = stored[stored.model == BASELINE].iloc[0]
    assert base.mase == pytest.approx(full.loc[BASELINE, "mase"])
    assert base.coverage_80 == pytest.approx(full.loc[BASELINE, "coverage_80"])
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
