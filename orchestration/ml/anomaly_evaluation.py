"""How well `detect_anomalies` finds anomalies in *our own* series, measured nightly (issue 4, part 5).

tests/test_anomalies.py measures the detector on simulated series. The platform's real daily usage has its
own noise and weekly shape, so the asset also measures it there: each trial copies the real series, injects
one event (spike, drop or level shift, sizes as in `inject_anomalies`) at a random day at least `MARGIN`
days from either end, runs the detector on the copy and scores it with `evaluate_detector` (event-level
precision, recall and detection delay; a flagged run is a detection, tolerance 2 days, runs 1 day apart
merged). Trials are pooled per kind and over all kinds.

The same trials score a simple baseline next to the detector (`DETECTORS`: ``rolling_robust_z``, a rolling
robust z-score without season, `rolling_robust_zscore`), so the detector's value over it is measured, not
assumed.

The real series has no ground truth: days the detector already flags on the untouched series may be real
anomalies. They are neither credited nor counted as false positives (masked out of the copy's flags) and
are reported as `original_flags`, so a noisy series still shows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from orchestration.ml.anomalies import (
    DEFAULT_THRESHOLD,
    EVENT_KINDS,
    detect_anomalies,
    evaluate_detector,
    inject_anomalies,
    rolling_robust_zscore,
)

MARGIN = 14  # two weeks of weekly profile before the event, and room after it to see a level shift
MAX_DURATION = 2
MIN_DAYS = 2 * MARGIN + MAX_DURATION + 1
DETECTORS: dict[str, Callable[..., pd.DataFrame]] = {"seasonal_robust": detect_anomalies,
                                                    "rolling_robust_z": rolling_robust_zscore}
COLUMNS = ["event_kind", "series_days", "trials", "n_events", "n_detected", "n_detections", "n_false_positives",
           "event_precision", "event_recall", "mean_delay_days", "original_flags", "threshold"]


def evaluate_on_series(series: pd.Series, *, trials: int = 8, seed: int = 0,
                       threshold: float = DEFAULT_THRESHOLD, detector: str = "seasonal_robust") -> pd.DataFrame:
    """One row per event kind and one for ``all``: pooled precision, recall and delay over `trials` per kind.

    `detector` names one of `DETECTORS`; every detector sees the same injected copies (same seeds).

    Returns an empty frame (COLUMNS) when the series has fewer than `MIN_DAYS` observed days.
    """
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    if detector not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r}; choose from {sorted(DETECTORS)}")
    detect = DETECTORS[detector]
    if series.notna().sum() < MIN_DAYS:
        return pd.DataFrame(columns=COLUMNS)
    series = series.interpolate(limit_direction="both")  # injection multiplies values: no gaps
    original = detect(series, threshold=threshold)["is_anomaly"]
    rows, pooled = [], {"tp": 0, "fp": 0, "events": 0, "detected": 0, "delays": []}
    for k, kind in enumerate(EVENT_KINDS):
        tp = fp = events = detected = 0
        delays: list[float] = []
        for trial in range(trials):
            rng = np.random.default_rng([seed, k, trial])
            counts = {"n_spikes": 0, "n_drops": 0, "n_level_shifts": 0}
            counts[{"spike": "n_spikes", "drop": "n_drops", "level_shift": "n_level_shifts"}[kind]] = 1
            injected, truth = inject_anomalies(series, rng, **counts, max_duration=MAX_DURATION, margin=MARGIN)
            flags = detect(injected, threshold=threshold)["is_anomaly"] & ~original
            result = evaluate_detector(injected, truth, flags)
            fp += result["n_false_positives"]
            tp += result["n_detections"] - result["n_false_positives"]
            events += result["n_events"]
            detected += result["n_detected"]
            if result["n_detected"]:
                delays.append(result["mean_delay_days"])
        rows.append(_row(kind, tp, fp, events, detected, delays))
        for key, value in (("tp", tp), ("fp", fp), ("events", events), ("detected", detected)):
            pooled[key] += value
        pooled["delays"] += delays
    rows.append(_row("all", pooled["tp"], pooled["fp"], pooled["events"], pooled["detected"], pooled["delays"]))
    frame = pd.DataFrame(rows)
    frame["series_days"] = len(series)
    frame["trials"] = [trials] * len(EVENT_KINDS) + [trials * len(EVENT_KINDS)]
    frame["original_flags"] = int(original.sum())
    frame["threshold"] = float(threshold)
    return frame[COLUMNS]


def _row(kind: str, tp: int, fp: int, events: int, detected: int, delays: list[float]) -> dict:
    return {
        "event_kind": kind,
        "n_events": events,
        "n_detected": detected,
        "n_detections": tp + fp,
        "n_false_positives": fp,
        "event_precision": tp / (tp + fp) if tp + fp else 1.0,
        "event_recall": detected / events if events else 1.0,
        "mean_delay_days": float(np.mean(delays)) if delays else None,
    }
