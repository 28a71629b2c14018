"""Anomaly detection on daily usage series (orchestration/ml/anomalies.py): no database needed.

The series are simulated daily usage: a linear trend (-30 % .. +60 % over the year), a weekday profile
(weekends at ~50 %) and 5 % multiplicative noise, one fixed seed per series. Spikes (+50-100 %, 1-2 days),
drops (-50-90 %, 1-2 days) and level shifts (+/-30-50 %, to the end of the series) are injected with
`inject_anomalies`.

Measured with the defaults (threshold 4.5, level_window 7), 8 series x 365 days per scenario, merge_gap 1:
    spikes only (6/series):        precision 1.00, recall 1.00, mean delay 0.00 days
    drops only (6/series):         precision 1.00, recall 1.00, mean delay 0.00 days
    level shifts only (3/series):  precision 0.96, recall 0.96 (23/24), mean delay 0.04 days
    mixed (4 + 4 + 2 per series):  precision 1.00, recall 1.00, delay 0.00 (spikes, drops), 0.19 (shifts)
    clean series:                  0 false positives in 8 x 365 days
The one missed level shift (+34 %) scores 4.3, 3.0, 3.1, 4.7 on its first days: flagged on day 3, past the
2-day tolerance, so it also counts as a false positive. With merge_gap=0 (strictly contiguous runs) level-shift
precision drops to 0.79: a shift's onset flickers around the threshold.
The thresholds asserted below leave room for a different numpy/statsmodels version: precision and recall
>= 0.9 (0.85 for level shifts alone), delay <= 1 day for spikes and drops, <= 2 days for level shifts,
<= 2 false alarms on the clean series.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from orchestration.ml.anomalies import detect_anomalies, evaluate_detector, inject_anomalies

SEEDS = range(8)
WEEKDAY_PROFILE = np.array([1.0, 1.05, 1.08, 1.06, 0.98, 0.55, 0.45])  # Monday .. Sunday


def simulate_usage(seed: int, n_days: int = 365, level: float = 1000.0, noise: float = 0.05) -> pd.Series:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2025-01-01", periods=n_days, freq="D")
    growth = rng.uniform(-0.3, 0.6)
    trend = level * (1 + growth * np.arange(n_days) / n_days)
    weekly = WEEKDAY_PROFILE[index.day_of_week.to_numpy()]
    return pd.Series(trend * weekly * (1 + rng.normal(0, noise, n_days)), index=index, name="sessions")


def run_scenario(n_spikes: int, n_drops: int, n_level_shifts: int) -> dict:
    """Pool event-level results over the seeds: precision, recall, delays per kind."""
    tp = fp = 0
    detected: dict[str, int] = {}
    events: dict[str, int] = {}
    delays: dict[str, list[float]] = {}
    for seed in SEEDS:
        clean = simulate_usage(seed)
        rng = np.random.default_rng(1000 + seed)
        series, injected = inject_anomalies(clean, rng, n_spikes, n_drops, n_level_shifts)
        metrics = evaluate_detector(series, injected, detect_anomalies(series))
        fp += metrics["n_false_positives"]
        tp += metrics["n_detections"] - metrics["n_false_positives"]
        for kind, m in metrics["by_kind"].items():
            events[kind] = events.get(kind, 0) + m["n_events"]
            detected[kind] = detected.get(kind, 0) + m["n_detected"]
            if m["n_detected"]:
                delays.setdefault(kind, []).extend([m["mean_delay_days"]] * m["n_detected"])
    return {
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": sum(detected.values()) / sum(events.values()) if events else 1.0,
        "false_positives": fp,
        "recall_by_kind": {k: detected[k] / events[k] for k in events},
        "delay_by_kind": {k: float(np.mean(v)) for k, v in delays.items()},
    }


@pytest.mark.parametrize(
    ("kind", "counts", "max_delay"),
    [("spike", (6, 0, 0), 1.0), ("drop", (0, 6, 0), 1.0), ("level_shift", (0, 0, 3), 2.0)],
)
def test_detects_each_kind_of_anomaly(kind, counts, max_delay):
    result = run_scenario(*counts)
    minimum = 0.85 if kind == "level_shift" else 0.9
    assert result["precision"] >= minimum, result
    assert result["recall"] >= minimum, result
    assert result["delay_by_kind"][kind] <= max_delay, result


def test_detects_mixed_anomalies():
    result = run_scenario(4, 4, 2)
    assert result["precision"] >= 0.9, result
    assert result["recall"] >= 0.9, result
    assert result["delay_by_kind"]["spike"] <= 1.0, result
    assert result["delay_by_kind"]["drop"] <= 1.0, result
    assert result["delay_by_kind"]["level_shift"] <= 2.0, result


def test_clean_series_have_few_false_positives():
    flagged = [int(detect_anomalies(simulate_usage(seed))["is_anomaly"].sum()) for seed in SEEDS]
    assert sum(flagged) <= 2, flagged


def test_level_shift_is_flagged_at_onset_not_forever():
    series = simulate_usage(3)
    onset = 200
    shifted = series.copy()
    shifted.iloc[onset:] *= 1.4
    flags = detect_anomalies(shifted)["is_anomaly"].to_numpy()
    flagged_days = np.flatnonzero(flags)
    assert flags[onset : onset + 3].any()
    assert flagged_days.min() >= onset - 1  # nothing (or at most the day before) ahead of the shift
    assert flagged_days.max() <= onset + 10  # the new level is the norm after a few days


def test_output_frame_shape_and_columns():
    series = simulate_usage(0, n_days=120)
    result = detect_anomalies(series)
    assert list(result.columns) == ["expected", "residual", "score", "is_anomaly"]
    assert result.index.equals(series.index)
    assert result["is_anomaly"].dtype == bool
    np.testing.assert_allclose(result["residual"], series - result["expected"])
    # a clean weekly series is explained by its decomposition: expected within ~20 % of the value
    assert (result["residual"].abs() / series).median() < 0.05


def test_constant_series():
    index = pd.date_range("2025-03-01", periods=60, freq="D")
    constant = pd.Series(100.0, index=index)
    result = detect_anomalies(constant)
    assert np.isfinite(result["score"]).all()
    assert not result["is_anomaly"].any()
    assert (result["score"].abs() < 1e-6).all()

    departed = constant.copy()
    departed.iloc[30] = 180.0
    result = detect_anomalies(departed)
    assert np.isfinite(result["score"]).all()
    assert result["is_anomaly"].sum() == 1 and result["is_anomaly"].iloc[30]

    zeros = pd.Series(0.0, index=index)
    assert not detect_anomalies(zeros)["is_anomaly"].any()


def test_short_series_flag_nothing_unless_non_seasonal():
    series = simulate_usage(1, n_days=10)
    series.iloc[3] *= 5
    result = detect_anomalies(series)  # < 2 weeks: weekday profile unknown, a weekend could look like a drop
    assert result.index.equals(series.index)
    assert result["expected"].notna().all()  # rolling-median baseline
    assert result["score"].isna().all() and not result["is_anomaly"].any()
    # a non-seasonal series (season_length=1) is scored against its rolling median: the spike stands out
    flat = pd.Series(np.random.default_rng(0).normal(100, 2, 10), index=series.index)
    flat.iloc[3] *= 2
    assert np.flatnonzero(detect_anomalies(flat, season_length=1)["is_anomaly"]).tolist() == [3]
    # two weeks are enough for STL
    two_weeks = simulate_usage(1, n_days=14)
    assert detect_anomalies(two_weeks)["score"].notna().all()

    tiny = series.iloc[:4]
    result = detect_anomalies(tiny)
    assert result["score"].isna().all() and not result["is_anomaly"].any()
    assert not detect_anomalies(series.iloc[:0])["is_anomaly"].any()


def test_nans_are_not_flagged_and_do_not_break_detection():
    series = simulate_usage(2)
    series.iloc[[0, 1, 50, 51, 52, 200, 364]] = np.nan
    series.iloc[120] *= 2.0
    result = detect_anomalies(series)
    nan_days = series.isna().to_numpy()
    assert result["score"].isna().to_numpy()[nan_days].all()
    assert not result["is_anomaly"].to_numpy()[nan_days].any()
    assert result["is_anomaly"].iloc[120]
    assert result["is_anomaly"].sum() <= 2

    all_nan = pd.Series(np.nan, index=series.index)
    assert not detect_anomalies(all_nan)["is_anomaly"].any()


def test_missing_dates_and_unsorted_index():
    series = simulate_usage(4)
    series.iloc[150] *= 2.0
    gappy = series.drop(series.index[[10, 11, 90]])
    result = detect_anomalies(gappy)
    assert result.index.equals(gappy.index)
    assert result["is_anomaly"].loc[series.index[150]]

    shuffled = series.sample(frac=1.0, random_state=0)
    result = detect_anomalies(shuffled)
    assert result.index.equals(shuffled.index)
    assert result["is_anomaly"].loc[series.index[150]]


@pytest.mark.parametrize(
    "bad",
    [
        pd.Series([1.0, 2.0, 3.0]),
        pd.Series(np.arange(30.0), index=pd.period_range("2025-01-01", periods=30, freq="D")),
        [1.0, 2.0, 3.0],
        pd.DataFrame({"x": [1.0]}, index=pd.DatetimeIndex(["2025-01-01"])),
    ],
)
def test_bad_input_raises(bad):
    with pytest.raises(ValueError, match="series"):
        detect_anomalies(bad)


def test_bad_parameters_raise():
    series = simulate_usage(0, n_days=30)
    with pytest.raises(ValueError, match="threshold"):
        detect_anomalies(series, threshold=0)
    with pytest.raises(ValueError, match="duplicate"):
        detect_anomalies(pd.concat([series, series.iloc[:1]]))


def test_evaluate_detector_counts_events_runs_and_delays():
    index = pd.date_range("2025-01-01", periods=40, freq="D")
    series = pd.Series(1.0, index=index)
    events = pd.DataFrame(
        {
            "start": index[[5, 15, 30]],
            "end": index[[5, 16, 30]],
            "kind": ["spike", "drop", "level_shift"],
        }
    )
    flags = pd.Series(False, index=index)
    flags.iloc[[5, 6]] = True  # one run -> the spike, delay 0
    flags.iloc[18] = True  # in the drop's window (end + 2), delay 3
    flags.iloc[25] = True  # outside every window: false positive
    # the level shift at 30 is missed
    metrics = evaluate_detector(series, events, flags)
    assert metrics["n_detections"] == 3
    assert metrics["n_false_positives"] == 1
    assert metrics["precision"] == pytest.approx(2 / 3)
    assert metrics["recall"] == pytest.approx(2 / 3)
    assert metrics["mean_delay_days"] == pytest.approx(1.5)
    assert metrics["by_kind"]["spike"]["mean_delay_days"] == 0
    assert metrics["by_kind"]["drop"]["mean_delay_days"] == 3
    assert metrics["by_kind"]["level_shift"]["recall"] == 0

    flags.iloc[8] = True  # 5, 6, _, 8: merged into one run with merge_gap=1, two runs with merge_gap=0
    assert evaluate_detector(series, events, flags)["n_detections"] == 3
    assert evaluate_detector(series, events, flags, merge_gap=0)["n_detections"] == 4
    assert evaluate_detector(series, events, flags, merge_gap=0)["n_false_positives"] == 2

    nothing = evaluate_detector(series, events, pd.Series(False, index=index))
    assert nothing["precision"] == 1.0 and nothing["recall"] == 0.0


def test_inject_anomalies_is_reproducible_and_leaves_the_input_alone():
    clean = simulate_usage(5)
    before = clean.copy()
    a, events_a = inject_anomalies(clean, np.random.default_rng(7), 2, 3, 1)
    b, events_b = inject_anomalies(clean, np.random.default_rng(7), 2, 3, 1)
    pd.testing.assert_series_equal(clean, before)
    pd.testing.assert_series_equal(a, b)
    pd.testing.assert_frame_equal(events_a, events_b)
    assert sorted(events_a["kind"]) == ["drop"] * 3 + ["level_shift"] + ["spike"] * 2
    assert (events_a["end"] >= events_a["start"]).all()
    changed = a.ne(clean)
    assert changed.any() and a.index.equals(clean.index)
    with pytest.raises(ValueError, match="too short"):
        inject_anomalies(clean.iloc[:40], np.random.default_rng(0), 5, 5, 5)
