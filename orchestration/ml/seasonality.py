"""The seasonal period of a series, inferred from the data when the caller does not give one (issue 14).

A default of 7 assumed a weekly cycle and never looked at the data: on a series whose season is not 7
the anomaly detector found nothing. Now only the *plausible* periods for the series' sampling step are
tried - hourly: 24 and 168; daily: 7; weekly: 52; monthly: 12; quarterly: 4 - and one is kept only when
the data show it:

1. the series is detrended by a centred moving average over the candidate period (a 2 x p average for an
   even p, as in classical decomposition), so a trend or a level shift does not pass for a season;
2. the autocorrelation of what is left at lag p must exceed ``max(MIN_ACF, 3 / sqrt(n))`` (white noise'
   lag-p autocorrelation has sd ~ 1 / sqrt(n): a false alarm on noise about 0.1 % of the time per candidate)
   and the autocorrelation at lag p // 2, where a real season is at its opposite phase (a slowly varying
   remainder is as correlated at both lags; a strict local peak at p is too strict for long smooth seasons);
3. among the candidates that pass, the highest autocorrelation wins (for hourly usage with a weekday
   effect, 168 beats 24: a weekly profile also holds the daily one).

A candidate needs at least ``2 * p + 1`` points; when the series is too short for every candidate, the
result is None with the reason saying so (callers decide what that means: `forecast()` uses no season,
`detect_anomalies()` the step's shortest plausible period, as before).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["MIN_ACF", "PLAUSIBLE_PERIODS", "SeasonalPeriod", "infer_season_length", "plausible_periods"]

MIN_ACF = 0.2
# sampling step -> seasonal periods worth trying, shortest first
PLAUSIBLE_PERIODS: dict[str, tuple[int, ...]] = {
    "hourly": (24, 168), "daily": (7,), "weekly": (52,), "monthly": (12,), "quarterly": (4,)}
_STEP_DAYS = {"hourly": (1 / 24, 1 / 24), "daily": (1, 1), "weekly": (7, 7), "monthly": (28, 31),
              "quarterly": (89, 92)}


@dataclass(frozen=True)
class SeasonalPeriod:
    period: int | None  # None: no season shown by the data (or too short to tell)
    reason: str
    acf: dict[int, float]  # autocorrelation of the detrended series at each candidate tried


def _step(index: pd.DatetimeIndex) -> str | None:
    if len(index) < 2:
        return None
    steps = np.diff(index.to_numpy()) / np.timedelta64(1, "D")  # numpy, whatever the index's unit: ~100x pandas
    days = float(np.median(steps))
    return next((name for name, (lo, hi) in _STEP_DAYS.items() if lo * 0.999 <= days <= hi * 1.001), None)


def plausible_periods(index: pd.DatetimeIndex) -> tuple[int, ...]:
    """The periods tried for a series sampled like `index` (by its median step); () for other steps."""
    step = _step(index)
    return PLAUSIBLE_PERIODS[step] if step else ()


def _detrended(y: np.ndarray, p: int) -> np.ndarray:
    weights = np.ones(p) / p if p % 2 else np.r_[0.5, np.ones(p - 1), 0.5] / p
    trend = np.convolve(y, weights, mode="valid")
    cut = (len(y) - len(trend)) // 2
    return y[cut : cut + len(trend)] - trend


def _acf(x: np.ndarray, lag: int) -> float:
    x = x - x.mean()
    denom = float(np.dot(x, x))
    return float(np.dot(x[:-lag], x[lag:]) / denom) if denom > 0 and lag < len(x) else 0.0


def infer_season_length(values: pd.Series | np.ndarray, index: pd.DatetimeIndex | None = None) -> SeasonalPeriod:
    """The seasonal period of `values` (see the module docstring); missing values are interpolated first."""
    if isinstance(values, pd.Series):
        index = values.index if index is None else index
        y = values.astype(float).interpolate(limit_direction="both").to_numpy()
    else:
        y = np.asarray(values, dtype=float)
    candidates = plausible_periods(index) if index is not None else ()
    if not candidates:
        return SeasonalPeriod(None, "no plausible seasonal period for this sampling step", {})
    n = int(np.isfinite(y).sum())
    usable = [p for p in candidates if n >= 2 * p + 1]
    if not usable:
        return SeasonalPeriod(None, f"too short to infer a season ({n} points; period {candidates[0]} needs "
                                    f"{2 * candidates[0] + 1})", {})
    threshold = max(MIN_ACF, 3 / np.sqrt(n))
    acf, passed = {}, {}
    for p in usable:
        x = _detrended(y, p)
        if len(x) <= p + 1:
            continue
        at_period, at_half = _acf(x, p), _acf(x, p // 2)
        acf[p] = round(at_period, 4)
        if at_period > threshold and at_period > at_half:
            passed[p] = at_period
    if not passed:
        tried = ", ".join(f"{p}: {a:.2f}" for p, a in acf.items())
        return SeasonalPeriod(None, f"no significant seasonal autocorrelation (lag acf {tried}; needs more than "
                                    f"{threshold:.2f} and than at half the period)", acf)
    best = max(passed, key=passed.get)
    return SeasonalPeriod(best, f"autocorrelation {passed[best]:.2f} at lag {best} of the detrended series "
                                f"(above {threshold:.2f} and above lag {best // 2}; tried {sorted(acf)})", acf)
