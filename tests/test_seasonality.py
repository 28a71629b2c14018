"""Seasonal period inference (orchestration/ml/seasonality.py) and its use by forecast() and detect_anomalies().

Each series has a known period (7 daily, 12 monthly, 24 hourly, 52 weekly) or none (white noise, a random walk,
a trend); spikes, drops and a level shift are planted in the seasonal ones. The period must be recovered from
the series *with* its anomalies, and the detector, called with its defaults, must find them as it does with the
period given (precision and recall >= 0.9 pooled over the seeds, as tests/test_anomalies.py asks).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from orchestration.ml.anomalies import detect_anomalies, evaluate_detector, inject_anomalies
from orchestration.ml.forecasting import forecast
from orchestration.ml.seasonality import infer_season_length, plausible_periods

SEEDS = range(3)
# name -> (period, pandas frequency, points)
SEASONAL = {"daily": (7, "D", 180), "monthly": (12, "MS", 120), "hourly": (24, "h", 24 * 35),
            "weekly": (52, "W-SUN", 52 * 6)}


def seasonal_series(period: int, freq: str, n: int, seed: int, noise: float = 0.05) -> pd.Series:
    """A positive series with a trend and a multiplicative seasonal profile of the given period."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    phase = rng.uniform(0, 2 * np.pi)
    profile = 1 + 0.3 * np.sin(2 * np.pi * t / period + phase) + 0.12 * np.cos(4 * np.pi * t / period)
    trend = 500 * (1 + rng.uniform(-0.2, 0.4) * t / n)
    return pd.Series(trend * profile * (1 + rng.normal(0, noise, n)),
                     index=pd.date_range("2020-01-05", periods=n, freq=freq))


def aseasonal_series(kind: str, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2020-01-01", periods=150, freq="D")
    values = {"white_noise": 100 + rng.normal(0, 5, 150), "random_walk": 100 + np.cumsum(rng.normal(0, 2, 150)),
              "trend": 100 + 0.8 * np.arange(150) + rng.normal(0, 5, 150)}[kind]
    return pd.Series(values, index=index)


@pytest.mark.parametrize("name", list(SEASONAL))
def test_known_period_is_recovered_despite_planted_anomalies(name):
    period, freq, n = SEASONAL[name]
    assert period in plausible_periods(pd.date_range("2020-01-05", periods=3, freq=freq))
    tp = fp = detected = events = 0
    for seed in SEEDS:
        series, injected = inject_anomalies(seasonal_series(period, freq, n, seed), np.random.default_rng(seed),
                                            n_spikes=2, n_drops=2, n_level_shifts=1,
                                            min_gap=min(21, n // 8), margin=min(14, n // 10))
        inferred = infer_season_length(series)
        assert inferred.period == period, (seed, inferred)
        scored = detect_anomalies(series)
        assert scored.attrs["season_length"] == period and "inferred" in scored.attrs["season_reason"]
        result = evaluate_detector(series, injected, scored)
        fp += result["n_false_positives"]
        tp += result["n_detections"] - result["n_false_positives"]
        detected += result["n_detected"]
        events += result["n_events"]
    assert tp / (tp + fp) >= 0.9 and detected / events >= 0.9, (name, tp, fp, detected, events)


@pytest.mark.parametrize("kind", ["white_noise", "random_walk", "trend"])
def test_no_period_when_the_data_show_none(kind):
    for seed in SEEDS:
        series = aseasonal_series(kind, seed)
        inferred = infer_season_length(series)
        assert inferred.period is None and "no significant" in inferred.reason, (seed, inferred)
        assert detect_anomalies(series).attrs["season_length"] == 1
    assert forecast(series, 7, folds=2).attrs["season_length"] is None


def test_forecast_records_the_inferred_period_and_why():
    series = seasonal_series(7, "D", 120, seed=4)
    df = forecast(series, 14)
    assert df.attrs["season_length"] == 7 and df.attrs["season_reason"].startswith("inferred: autocorrelation")
    assert "seasonal_naive" in set(df.attrs["backtest"].model)
    given = forecast(series, 14, 1)
    assert given.attrs["season_length"] is None and given.attrs["season_reason"] == "given: season_length=1"


def test_too_short_or_unknown_step_falls_back_as_documented():
    short = seasonal_series(7, "D", 12, seed=0)
    assert infer_season_length(short).reason.startswith("too short")
    assert detect_anomalies(short).attrs["season_length"] == 7  # the step's usual period: not scored, as before
    assert forecast(short, 3).attrs["season_length"] is None
    odd_step = pd.Series(np.arange(40.0), index=pd.date_range("2020-01-01", periods=40, freq="5min"))
    assert infer_season_length(odd_step).period is None
