"""Anomaly detection for daily or hourly usage series (issue 4, part 5; issue 14).

`detect_anomalies` scores every point of a series by its robust residual: value - (level + seasonal profile),
divided by a robust scale (1.4826 x MAD of all residuals, see `_robust_scale`). Points with |score| > threshold
are anomalies. Non-negative series (counts, minutes) are decomposed on log1p, so the profile and the anomalies
are multiplicative and the score does not depend on the series' size.

The season is inferred from the data unless `season_length` is given (`orchestration.ml.seasonality`: 7 for
daily usage with a weekday cycle, 24 or 168 for hourly usage, 52 for weekly, 12 for monthly data; none when the
autocorrelation shows none, which scores against the trailing level alone). A series too short to tell gets
the step's usual period (7 for daily data), so it is not scored, as before. The result's attrs record the
period (``season_length``) and why (``season_reason``).

* Series of at least `STL_MIN_CYCLES` seasons: statsmodels' STL with ``robust=True`` gives the profile - the
  bisquare weights keep spikes and drops out of it. Two to `STL_MIN_CYCLES` seasons (a weekly series' annual
  cycle): the median of each phase's detrended values instead, since robust STL over-fits so few cycles. The
  level is the median of the previous `level_window` deseasonalised points (the decomposition's own level for
  the first ones), moved forward by the series' drift over the median's lag (on a growing series the bare
  median lags: every day scored about +2). Spikes and drops are flagged on the day (delay 0). A second pass
  leaves the points of short flagged runs (at most level_window // 3 points: spikes and drops) out of the
  trailing median, so a deep drop does not drag the level of the following week and its recovery is not
  flagged (it was: 9 of 32 injected drops into a growing count series, tests/test_anomaly_evaluation.py).
  A level shift is flagged from its onset until that trailing median has crossed over, i.e. the first
  ~level_window / 2 days, never before the shift and not forever. (STL's centred trend alone splits a shift,
  flagging days *before* it and missing a third of them - measured, hence the trailing level.)
* Shorter series (fewer than two seasons) cannot give a weekly profile, and without one a weekend can't be
  told from a drop: ``expected`` is a centred rolling median over one season, but nothing is scored (score
  NaN) or flagged. With no season (``season_length=1`` or none inferred) the baseline is the trailing median of
  the previous `level_window` points (a centred 3-point median for the first ones) and is scored as usual. With
  fewer than `MIN_POINTS` observed values nothing is scored either.
* Constant series: the MAD is 0. The scale then falls back to the mean absolute deviation, then to a tiny
  floor relative to the level, so there is no division by zero; a constant series scores 0 everywhere and
  only a value that departs from the constant is flagged.
* NaNs are interpolated for the decomposition only; their score is NaN and they are never flagged. Missing
  dates in an otherwise regular index are treated the same way.

The default threshold (4.5) and windows were chosen on simulated daily usage (tests/test_anomalies.py): with
5 % day-to-day noise it finds every spike (+50-100 %), drop (-50-90 %) and level shift (+/-30-50 %) with no
false alarm on clean series; at 10 % noise a +50 % spike is only ~4 sigma and recall falls (0.7 for spikes,
0.4 for level shifts) - the detector cannot beat the series' own noise.

`inject_anomalies` plants spikes, drops and level shifts in a clean series and `evaluate_detector` scores the
flags against them at event level (precision, recall, detection delay), see their docstrings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.tsa.seasonal import STL

from orchestration.ml.seasonality import infer_season_length, plausible_periods

DEFAULT_THRESHOLD = 4.5
MAD_TO_SIGMA = 1.4826
MIN_POINTS = 5
DEFAULT_SEASONAL_WINDOW = 31
DEFAULT_LEVEL_WINDOW = 7
# Robust STL needs cycles to spare: with few of them (a weekly series' annual season) its bisquare weights zero
# out whole points and each seasonal sub-series' fit runs through the rest, so the residual scale collapses
# (measured: 4-6 cycles of period 52 gave 3-28 false alarms on a clean series). Fewer cycles: medians.
STL_MIN_CYCLES = 10
EVENT_KINDS = ("spike", "drop", "level_shift")


def _validate(series: pd.Series, name: str = "series") -> pd.Series:
    if not isinstance(series, pd.Series):
        raise ValueError(f"{name} must be a pandas Series with a DatetimeIndex, got {type(series).__name__}")
    if not isinstance(series.index, pd.DatetimeIndex):
        raise ValueError(f"{name} must have a DatetimeIndex, got {type(series.index).__name__}")
    if series.index.has_duplicates:
        raise ValueError(f"{name} has duplicate timestamps in its index")
    try:
        values = pd.to_numeric(series, errors="raise").astype(float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must hold numeric values: {exc}") from exc
    return values.sort_index()


def _regularise(values: pd.Series) -> pd.Series:
    """Reindex onto a regular grid (the smallest step) when dates are missing, so positions are days."""
    if len(values) < 3:
        return values
    steps = np.diff(values.index.asi8)
    step = steps.min()
    if step > 0 and (steps != step).any() and (steps % step == 0).all():
        grid = pd.date_range(values.index[0], values.index[-1], freq=pd.Timedelta(int(step), unit="ns"))
        if len(grid) <= 4 * len(values):
            return values.reindex(grid)
    return values


def _robust_scale(residual: np.ndarray, level: float) -> float:
    """1.4826 x MAD, falling back to the mean absolute deviation and then to a floor relative to the level."""
    r = residual[np.isfinite(residual)]
    floor = 1e-9 * max(1.0, abs(level))
    if len(r) == 0:
        return floor
    centred = np.abs(r - np.median(r))
    scale = MAD_TO_SIGMA * np.median(centred)
    if scale <= floor:
        scale = 1.2533 * centred.mean()  # sqrt(pi/2) x mean absolute deviation estimates sigma for normal data
    return max(scale, floor)


def _season(season_length: int | None, values: pd.Series) -> tuple[int, str]:
    """The period used (1: none) and why: given, inferred, or the step's usual period when too short to tell."""
    if season_length is not None:
        return int(season_length), f"given: season_length={season_length}"
    inferred = infer_season_length(values, values.index)
    if inferred.period is not None:
        return inferred.period, f"inferred: {inferred.reason}"
    usual = plausible_periods(values.index)
    if usual and inferred.reason.startswith("too short"):
        return usual[0], f"{inferred.reason}: the step's usual period {usual[0]}"
    return 1, f"inferred: {inferred.reason}: no season"


def _median_profile(y: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray]:
    """Seasonal profile and level from medians, for series of few cycles (see STL_MIN_CYCLES).

    Profile: the median of each phase of the series minus its centred rolling median over one period (full
    windows only: a half window at either end is biased by the season); level: the centred rolling median of
    the deseasonalised series.
    """
    window = _odd(period)
    trend = pd.Series(y).rolling(window, center=True, min_periods=window).median()
    phase = np.arange(len(y)) % period
    profile = (pd.Series(y) - trend).groupby(phase).median().reindex(range(period)).fillna(0.0)
    seasonal = (profile - profile.mean()).to_numpy()[phase]
    level = pd.Series(y - seasonal).rolling(window, center=True, min_periods=1).median().to_numpy()
    return seasonal, level


def _odd(k: int) -> int:
    return k if k % 2 else k + 1


def _components(y: np.ndarray, season_length: int, seasonal_window: int, trend_window: int | None
                ) -> tuple[np.ndarray, np.ndarray, bool]:
    """(seasonal component, the decomposition's own level, whether a trailing level may replace it) of a
    gap-free array."""
    n = len(y)
    if season_length >= 2 and n >= 2 * season_length:
        if n >= STL_MIN_CYCLES * season_length:
            trend = _odd(max(trend_window or 3 * season_length, season_length + 1))
            fit = STL(y, period=season_length, seasonal=_odd(max(seasonal_window, 3)), trend=trend, robust=True).fit()
            return np.asarray(fit.seasonal, dtype=float), np.asarray(fit.trend, dtype=float), True
        seasonal, level = _median_profile(y, season_length)
        return seasonal, level, True
    window = max(3, min(season_length, n) | 1)  # odd, so the median is centred
    centred = pd.Series(y).rolling(window, center=True, min_periods=1).median().to_numpy()
    # No season: the same causal level as with one, so a drop lasting two points is not its own baseline.
    return np.zeros(n), centred, season_length < 2


def _trailing_level(x: np.ndarray, level_window: int, own_level: np.ndarray, skip: np.ndarray) -> np.ndarray:
    """Causal level: the median of the previous `level_window` deseasonalised values, leaving out `skip`, moved
    forward by the series' drift over the median's lag.

    A level shift then scores from its onset until the median has crossed over (~level_window / 2 points),
    never before. The median of the previous points stands for the level about (level_window + 1) / 2 points
    ago; on a growing series that lag alone gave every point a score of ~+2 (a series doubling over 90 days)
    and pushed ordinary days over the threshold. So the level adds the drift (the median step of the
    decomposition's own level `own_level`, one number per series, which a level shift does not move) times the
    lag (the distance to the mean position of the points the median used). The first `level_window` points
    keep `own_level`, as does a point whose whole window is skipped.
    """
    n = len(x)
    drift = float(np.median(np.diff(own_level))) if n > 1 else 0.0
    positions = np.arange(n, dtype=float)
    median = pd.Series(np.where(skip, np.nan, x)).rolling(level_window, min_periods=1).median().shift(1)
    median = median.to_numpy(copy=True)
    if skip.any():
        used = pd.Series(np.where(skip, np.nan, positions)).rolling(level_window, min_periods=1).mean().shift(1)
        lag = positions - used.to_numpy()
    else:
        lag = np.full(n, (level_window + 1) / 2)
    median[:level_window] = np.nan
    trailing = median + drift * lag
    return np.where(np.isfinite(trailing), trailing, own_level)


def _excursions(flags: np.ndarray, max_length: int) -> np.ndarray:
    """Points of flagged runs at most `max_length` long: spikes and drops, which the level should not follow."""
    out = np.zeros(len(flags), dtype=bool)
    for first, last in _flagged_runs(pd.Series(flags)):
        if last - first + 1 <= max_length:
            out[first : last + 1] = True
    return out


def _score(y: np.ndarray, fitted: np.ndarray, observed: np.ndarray, unscored: bool) -> np.ndarray:
    """Sigma units: the residual over the robust scale of all residuals; NaN where unobserved or where the
    series cannot be scored."""
    resid = np.where(observed, y - fitted, np.nan)
    level = float(np.median(y[observed]))
    resid[np.abs(resid) < 1e-9 * max(1.0, abs(level))] = 0.0  # round-off of a constant series
    if unscored:
        resid[:] = np.nan
    return resid / _robust_scale(resid, level)


def detect_anomalies(
    series: pd.Series,
    *,
    season_length: int | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    seasonal_window: int = DEFAULT_SEASONAL_WINDOW,
    trend_window: int | None = None,
    level_window: int | None = DEFAULT_LEVEL_WINDOW,
    log: bool | None = None,
) -> pd.DataFrame:
    """Flag anomalous points of a (daily) series.

    Returns a frame indexed like `series` with columns ``expected`` (level + seasonal baseline), ``residual``
    (value - expected), ``score`` and ``is_anomaly`` (|score| > threshold). ``score`` is in sigma units: the
    residual (on the log1p scale when `log`) divided by sigma = 1.4826 x the MAD of the series' own residuals,
    the robust estimate of their standard deviation. For Gaussian noise |score| > 4.5 (the default threshold)
    happens once in ~150,000 points; -6 means "six of this series' usual deviations below expected". NaN where
    the value is NaN or the series is too short to score. attrs: ``season_length`` and ``season_reason``.

    `season_length`: period in points (7 for daily data with a weekly cycle, 24 or 168 for hourly data); None
    infers it (see the module docstring), 1 means no season. `seasonal_window` and
    `trend_window` (default 3 seasons) are STL's seasonal and trend smoothers (made odd). `level_window`: days
    of the trailing median level; None uses STL's centred trend instead (slower to flag a level shift, and
    flags the days before it). `log`: decompose log1p(values); default when no value is negative.
    Raises ValueError when `series` is not a numeric Series with a DatetimeIndex (or has duplicate dates).
    """
    if season_length is not None and season_length < 1:
        raise ValueError(f"season_length must be >= 1, got {season_length}")
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    values = _regularise(_validate(series))
    season_length, season_reason = _season(season_length, values)
    observed = values.notna().to_numpy()
    out = pd.DataFrame(
        {"expected": np.nan, "residual": np.nan, "score": np.nan, "is_anomaly": False}, index=values.index
    )
    if observed.sum() >= MIN_POINTS:
        # Fill gaps for the decomposition only: linear inside, nearest value at the edges.
        filled = values.interpolate(method="linear", limit_direction="both").to_numpy()
        if log is None:
            log = bool(np.nanmin(values.to_numpy()) >= 0)
        elif log and np.nanmin(values.to_numpy()) < 0:
            raise ValueError("series has negative values: log=True needs values >= 0")
        y = np.log1p(filled) if log else filled
        seasonal, own_level, trailing = _components(y, season_length, seasonal_window, trend_window)
        trailing = bool(trailing and level_window and len(y) > level_window)
        unscored = season_length >= 2 and len(y) < 2 * season_length  # weekday profile unknown (module doc)
        level = _trailing_level(y - seasonal, level_window, own_level, np.zeros(len(y), dtype=bool)) if trailing \
            else own_level
        score = _score(y, seasonal + level, observed, unscored)
        if trailing:
            # A spike or drop enters the trailing median of the next `level_window` points and drags it: the
            # recovery after a deep drop was flagged. Score again with the level leaving those points out.
            skip = _excursions(np.abs(np.nan_to_num(score)) > threshold, max(1, level_window // 3))
            if skip.any():
                level = _trailing_level(y - seasonal, level_window, own_level, skip)
                score = _score(y, seasonal + level, observed, unscored)
        fitted = seasonal + level
        expected = np.expm1(fitted) if log else fitted
        out["expected"] = expected
        out["residual"] = values.to_numpy() - expected
        out["score"] = score
        out["is_anomaly"] = np.abs(np.nan_to_num(score, nan=0.0)) > threshold
    out = out.reindex(series.index)
    out.attrs["season_length"] = season_length
    out.attrs["season_reason"] = season_reason
    return out


def rolling_robust_zscore(series: pd.Series, *, window: int = 28, threshold: float = DEFAULT_THRESHOLD,
                          log: bool | None = None) -> pd.DataFrame:
    """The simple baseline `detect_anomalies` is measured against: a rolling robust z-score.

    Each point's score is its distance from the median of the previous `window` points in units of their
    1.4826 x MAD (on log1p for non-negative series, as the detector), no season and no level model; the first
    `window` points are not scored. Same output columns as `detect_anomalies`.
    """
    values = _regularise(_validate(series))
    log = bool(np.nanmin(values.to_numpy()) >= 0) if log is None else log
    y = np.log1p(values) if log else values
    past = y.rolling(window, min_periods=window).median().shift(1)
    mad = (y - past).abs().rolling(window, min_periods=window).median().shift(1)
    floor = 1e-9 * np.maximum(1.0, past.abs())
    score = (y - past) / np.maximum(MAD_TO_SIGMA * mad, floor)
    expected = np.expm1(past) if log else past
    out = pd.DataFrame({"expected": expected, "residual": values - expected, "score": score,
                        "is_anomaly": score.abs().fillna(0.0) > threshold}, index=values.index)
    return out.reindex(series.index)


def inject_anomalies(
    series: pd.Series,
    rng: np.random.Generator,
    n_spikes: int = 3,
    n_drops: int = 3,
    n_level_shifts: int = 1,
    *,
    spike_size: tuple[float, float] = (0.5, 1.0),
    drop_size: tuple[float, float] = (0.5, 0.9),
    shift_size: tuple[float, float] = (0.3, 0.5),
    max_duration: int = 2,
    min_gap: int = 21,
    margin: int = 14,
) -> tuple[pd.Series, pd.DataFrame]:
    """Plant anomalies in a copy of a clean series; returns ``(series, events)``.

    Sizes are relative to the local value: a spike multiplies 1-`max_duration` days by 1 + U(spike_size), a
    drop by 1 - U(drop_size) (an outage), a level shift multiplies everything from its onset to the end of the
    series by 1 +/- U(shift_size) (sign at random). Events start at least `min_gap` days apart and `margin`
    days from either end, so they don't mask each other. `events` has one row per event: ``start``, ``end``
    (last affected day; the onset for a level shift), ``kind`` (spike/drop/level_shift) and ``factor``.
    """
    values = _validate(series).copy()
    n_events = n_spikes + n_drops + n_level_shifts
    kinds = ["spike"] * n_spikes + ["drop"] * n_drops + ["level_shift"] * n_level_shifts
    candidates = np.arange(margin, len(values) - margin - max_duration)
    starts: list[int] = []
    for _ in range(1000):  # rejection sampling of well-separated positions
        if len(starts) == n_events:
            break
        pos = int(rng.choice(candidates)) if len(candidates) else -1
        if pos >= 0 and all(abs(pos - s) >= min_gap for s in starts):
            starts.append(pos)
    if len(starts) < n_events:
        raise ValueError(f"series of {len(values)} points is too short for {n_events} events {min_gap} days apart")
    starts.sort()
    kinds = [kinds[i] for i in rng.permutation(n_events)]
    y = values.to_numpy().copy()
    rows = []
    for pos, kind in zip(starts, kinds, strict=True):
        if kind == "level_shift":
            factor = 1 + rng.choice([-1, 1]) * rng.uniform(*shift_size)
            end = pos
            y[pos:] *= factor
        else:
            duration = int(rng.integers(1, max_duration + 1))
            end = pos + duration - 1
            factor = 1 + rng.uniform(*spike_size) if kind == "spike" else 1 - rng.uniform(*drop_size)
            y[pos : end + 1] *= factor
        rows.append({"start": values.index[pos], "end": values.index[end], "kind": kind, "factor": float(factor)})
    events = pd.DataFrame(rows, columns=["start", "end", "kind", "factor"])
    return pd.Series(y, index=values.index, name=series.name), events


def _flagged_runs(flags: pd.Series, merge_gap: int = 0) -> list[tuple[int, int]]:
    """(first, last) positions of runs of True; runs separated by <= merge_gap False values are merged."""
    f = flags.to_numpy(dtype=bool)
    edges = np.diff(np.concatenate([[0], f.astype(int), [0]]))
    runs: list[tuple[int, int]] = []
    for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True):
        if runs and a - runs[-1][1] - 1 <= merge_gap:
            runs[-1] = (runs[-1][0], int(b))
        else:
            runs.append((int(a), int(b)))
    return runs


def evaluate_detector(
    series: pd.Series,
    injected_events: pd.DataFrame,
    detections: pd.Series | pd.DataFrame,
    *,
    tolerance: int = 2,
    merge_gap: int = 1,
) -> dict:
    """Event-level precision, recall and detection delay of `detections` against `injected_events`.

    `detections` is a boolean Series (or the frame of `detect_anomalies`, whose ``is_anomaly`` is used) aligned
    with `series`. An event is detected when a flagged point falls in [start, end + tolerance] (positions of
    `series`, i.e. days for a daily series); its delay is the distance from `start` to the first such point.
    Contiguous flagged runs count as one detection (as one alert would), runs separated by at most `merge_gap`
    unflagged points included - a level shift's onset often flickers around the threshold; 0 counts strictly
    contiguous runs only. A run touching some event window is a true positive, any other run a false positive.

    Returns overall ``precision``, ``recall``, ``mean_delay_days``, ``n_events``, ``n_detected``,
    ``n_detections``, ``n_false_positives`` and ``by_kind``: for each kind present, ``n_events``,
    ``n_detected``, ``recall``, ``mean_delay_days`` and ``n_detections`` (runs touching its windows).
    Precision is 1.0 when nothing is flagged; recall is 1.0 when there are no events.
    """
    values = _validate(series)
    flags = detections["is_anomaly"] if isinstance(detections, pd.DataFrame) else detections
    flags = flags.reindex(values.index).fillna(False).astype(bool)
    index = values.index
    runs = _flagged_runs(flags, merge_gap)
    flagged_pos = np.flatnonzero(flags.to_numpy())
    run_matched = np.zeros(len(runs), dtype=bool)
    per_event = []
    for event in injected_events.itertuples(index=False):
        start = int(index.searchsorted(pd.Timestamp(event.start)))
        end = int(index.searchsorted(pd.Timestamp(event.end), side="right")) - 1 + tolerance
        hits = flagged_pos[(flagged_pos >= start) & (flagged_pos <= end)]
        touching = [i for i, (a, b) in enumerate(runs) if a <= end and b >= start]
        run_matched[touching] = True
        per_event.append(
            {
                "kind": event.kind,
                "detected": len(hits) > 0,
                "delay": int(hits[0] - start) if len(hits) else None,
                "runs": len(touching),
            }
        )

    def summary(rows: list[dict]) -> dict:
        delays = [r["delay"] for r in rows if r["detected"]]
        return {
            "n_events": len(rows),
            "n_detected": sum(r["detected"] for r in rows),
            "recall": sum(r["detected"] for r in rows) / len(rows) if rows else 1.0,
            "mean_delay_days": float(np.mean(delays)) if delays else None,
        }

    n_fp = int((~run_matched).sum())
    result = {
        **summary(per_event),
        "precision": float(run_matched.sum() / len(runs)) if runs else 1.0,
        "n_detections": len(runs),
        "n_false_positives": n_fp,
        "by_kind": {},
    }
    for kind in dict.fromkeys(r["kind"] for r in per_event):
        rows = [r for r in per_event if r["kind"] == kind]
        result["by_kind"][kind] = {**summary(rows), "n_detections": sum(r["runs"] for r in rows)}
    return result
