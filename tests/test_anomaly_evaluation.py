"""The nightly detector evaluation on a given series (orchestration/ml/anomaly_evaluation.py); no database.

On the clean simulated usage of tests/test_anomalies.py (5 % noise) the detector finds every injected
spike and drop on the day and level shifts within the tolerance; on a noisier series recall falls, and
the evaluation says so rather than hiding it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from orchestration.ml.anomalies import DEFAULT_LEVEL_WINDOW, detect_anomalies, inject_anomalies
from orchestration.ml.anomaly_evaluation import COLUMNS, MIN_DAYS, evaluate_on_series
from tests.test_anomalies import simulate_usage


def test_clean_series_scores_high_per_kind_and_overall():
    result = evaluate_on_series(simulate_usage(0, n_days=120), trials=6, seed=1).set_index("event_kind")
    assert list(result.index) == ["spike", "drop", "level_shift", "all"]
    assert (result.loc[["spike", "drop", "level_shift"], "n_events"] == 6).all()
    assert result.loc["all", "n_events"] == 18 and result.loc["all", "trials"] == 18
    assert result.loc[["spike", "drop"], "event_recall"].min() == 1.0
    assert result.loc[["spike", "drop"], "mean_delay_days"].max() <= 1.0
    assert result.loc["all", "event_precision"] >= 0.9 and result.loc["all", "event_recall"] >= 0.85
    assert result.loc["all", "n_detected"] == result.loc[["spike", "drop", "level_shift"], "n_detected"].sum()


def test_noisy_series_reports_lower_recall():
    clean = evaluate_on_series(simulate_usage(2, n_days=120), trials=6).set_index("event_kind")
    rng = np.random.default_rng(0)
    noisy_series = simulate_usage(2, n_days=120) * (1 + rng.normal(0, 0.15, 120))
    noisy = evaluate_on_series(noisy_series, trials=6).set_index("event_kind")
    assert noisy.loc["all", "event_recall"] < clean.loc["all", "event_recall"]


def test_anomalies_already_in_the_series_are_reported_not_counted():
    series = simulate_usage(4, n_days=120)
    series.iloc[60] *= 3  # a real outage-sized spike, unknown to the evaluation
    result = evaluate_on_series(series, trials=4).set_index("event_kind")
    assert (result.original_flags >= 1).all()
    assert result.loc["spike", "event_precision"] == 1.0


def test_reproducible_and_too_short_series_give_no_rows():
    series = simulate_usage(1, n_days=90)
    first, second = evaluate_on_series(series, trials=3), evaluate_on_series(series, trials=3)
    assert first.equals(second)
    assert list(first.columns) == COLUMNS
    assert evaluate_on_series(series.iloc[: MIN_DAYS - 1]).empty
    with pytest.raises(ValueError, match="trials"):
        evaluate_on_series(series, trials=0)


def test_baseline_is_measured_on_the_same_trials_and_the_detector_beats_it():
    """The rolling robust z-score has no weekday profile: on weekly usage its MAD spans the weekend dip, so
    a drop to half on a weekday hides inside it and weekends fool it. Measured, not assumed."""
    series = simulate_usage(3, n_days=120)
    ours = evaluate_on_series(series, trials=4).set_index("event_kind")
    baseline = evaluate_on_series(series, trials=4, detector="rolling_robust_z").set_index("event_kind")
    assert (baseline.n_events == ours.n_events).all()
    f1 = {name: 2 * r.event_precision * r.event_recall / (r.event_precision + r.event_recall or 1)
          for name, r in (("ours", ours.loc["all"]), ("baseline", baseline.loc["all"]))}
    assert f1["ours"] > f1["baseline"], (ours.loc["all"].to_dict(), baseline.loc["all"].to_dict())
    with pytest.raises(ValueError, match="unknown detector"):
        evaluate_on_series(series, detector="prophet")


def growing_daily_counts(seed: int, n_days: int = 90) -> pd.Series:
    """Daily counts of a big, growing platform: 20,000 a day doubling over the window, a weekday profile with
    quiet weekends, Poisson noise (~0.7 %): the shape of the demo's platform-wide count metrics, less noisy."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2026-01-01", periods=n_days, freq="D")
    weekday = np.array([1.0, 1.05, 1.08, 1.06, 0.98, 0.45, 0.35])[index.day_of_week.to_numpy()]
    return pd.Series(rng.poisson(20_000 * (1 + np.arange(n_days) / n_days) * weekday).astype(float), index=index)


def test_recovery_after_an_injected_drop_is_not_flagged_and_every_drop_is_found():
    """The days after a drop used to be flagged: the drop's days entered the trailing median of the next week and
    the median lagged the growth, so ordinary days scored +4.5..+6.1 (9 of these 32 trials, 16 days, measured
    before the fix). Now the level leaves flagged spikes and drops out and follows the series' drift."""
    recoveries_flagged, drops_found, trials = [], 0, 0
    for seed in range(4):
        clean = growing_daily_counts(seed)
        already = detect_anomalies(clean)["is_anomaly"].to_numpy()
        for trial in range(8):
            series, truth = inject_anomalies(clean, np.random.default_rng([seed, trial]), n_spikes=0, n_drops=1,
                                             n_level_shifts=0, max_duration=2, margin=14)
            flags = detect_anomalies(series)["is_anomaly"].to_numpy()
            start, end = series.index.get_loc(truth.start[0]), series.index.get_loc(truth.end[0])
            recovery = slice(end + 1, end + 1 + DEFAULT_LEVEL_WINDOW)
            recoveries_flagged += [(seed, trial, day) for day in np.flatnonzero(flags[recovery] & ~already[recovery])]
            drops_found += bool(flags[start : end + 1].all())
            trials += 1
    assert recoveries_flagged == []
    assert drops_found == trials == 32
