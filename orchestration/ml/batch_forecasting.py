"""Rolling-origin backtest and forecast of many equal-length series at once, as array operations (issue 14).

`forecast()` fits one series at a time with statsmodels: ~0.1-0.4 s per 90-day series, i.e. most of an hour
for 2,000 accounts x 4 metrics. Per-account usage needs none of statsmodels' generality, and every model
here is an array operation over a (series x time) matrix, so thousands of series cost about as much as one:

* ``seasonal_naive`` -- the baseline, identical to `forecast()`'s (same forecast, sd and backtest figures);
* ``ets`` -- ETS(A,Ad,A): additive error, damped additive trend, additive season. The smoothing parameters
  are chosen per series from a fixed grid (`ETS_GRID`) by the in-sample one-step squared error, all grid
  points run side by side in one pass over time. The states are initialised from the first season (level:
  its mean, season: its deviations, trend: the change between the first two seasons' means), so a prefix of
  the recursion *is* the fit on a shorter training window: one pass serves every backtest fold and the
  final forecast. Native sd: the ETS(A,Ad,A) variance (Hyndman et al. 2008, class 1);
* ``linear_trend_season`` -- OLS on a linear trend and seasonal dummies; the design is the same for every
  series of a given length, so one pseudo-inverse fits them all.

Backtest and intervals follow `forecast()` exactly (see orchestration/ml/forecasting.py): the same rolling
origins, MASE scaled per fold by the training window's seasonal-naive MAE, sMAPE, interval multipliers from
the standardised backtest errors (never below the normal quantile), leave-one-fold-out coverage. A model is
chosen only if its MASE is strictly lower than seasonal naive's.

`forecast_matrix` covers the common case only: a season, no missing values, enough points for the backtest.
`eligible` says which rows qualify; the caller sends the others to `forecast()`. A constant row is forecast
flat with zero-width intervals by seasonal naive, as `forecast()` does (`BatchForecast.constant` marks it).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from orchestration.ml.forecasting import MIN_POINTS, Z80, Z95, _plan

__all__ = ["BATCH_MODELS", "ETS_GRID", "BatchForecast", "eligible", "forecast_matrix"]

BASELINE = "seasonal_naive"
BATCH_MODELS = (BASELINE, "ets", "linear_trend_season")

# (alpha, beta, gamma, phi); gamma <= 1 - alpha keeps the season's update admissible.
ETS_GRID = np.array([
    (a, b * a, g, p)
    for a, b, g, p in itertools.product((0.05, 0.15, 0.3, 0.5, 0.8), (0.0, 0.1, 0.3), (0.0, 0.1, 0.3), (0.9, 0.98))
    if g <= 1 - a
])


@dataclass
class BatchForecast:
    """Per series (rows) and model (`models` order): the backtest; per series: the chosen model's forecast."""

    models: tuple[str, ...]
    mase: np.ndarray  # (series, models)
    smape: np.ndarray
    coverage_80: np.ndarray
    coverage_95: np.ndarray
    folds: int
    horizon: int  # backtest horizon
    chosen: np.ndarray  # (series,) index into models
    constant: np.ndarray  # (series,) bool: flat forecast, zero-width intervals, only the baseline matters
    mean: np.ndarray  # (series, h)
    sd_80: np.ndarray  # half-widths of the 80 % / 95 % intervals
    sd_95: np.ndarray


def eligible(y: np.ndarray, h: int, m: int, folds: int) -> np.ndarray:
    """Rows of `y` (series x time) that `forecast_matrix` handles as `forecast()` would (see module doc)."""
    n = y.shape[1]
    if m < 2 or n < max(MIN_POINTS, 2 * m) or not _plan(n, h, m, folds)[0]:
        return np.zeros(len(y), dtype=bool)
    return np.isfinite(y).all(axis=1)


# --------------------------------------------------------------------------- models


def _sigma(resid: np.ndarray, n_params: int = 0) -> np.ndarray:
    dof = max(resid.shape[1] - n_params, 1)
    return np.sqrt(np.sum(resid**2, axis=1) / dof)


def _seasonal_naive(train: np.ndarray, h: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    n = train.shape[1]
    steps = np.arange(h)
    sigma = _sigma(train[:, m:] - train[:, :-m])
    return train[:, n - m + steps % m], sigma[:, None] * np.sqrt(steps // m + 1)[None, :]


def _linear(train: np.ndarray, h: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    n = train.shape[1]

    def design(t: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones_like(t, dtype=float), t / n, *[(t % m == k).astype(float)
                                                                       for k in range(1, m)]])

    x, xf = design(np.arange(n)), design(np.arange(n, n + h))
    xtx_inv = np.linalg.pinv(x.T @ x)
    beta = train @ (xtx_inv @ x.T).T  # (series, params)
    sigma = _sigma(train - beta @ x.T, x.shape[1])
    leverage = np.einsum("ij,jk,ik->i", xf, xtx_inv, xf)
    return beta @ xf.T, sigma[:, None] * np.sqrt(1 + leverage)[None, :]


class _EtsPass:
    """One pass of ETS(A,Ad,A) over the whole matrix for every grid point; fits any training prefix."""

    def __init__(self, y: np.ndarray, m: int, stops: list[int]):
        n = y.shape[1]
        a, b, g, p = (ETS_GRID[:, k][None, :] for k in range(4))
        first, second = y[:, :m].mean(axis=1), y[:, m : 2 * m].mean(axis=1)
        slope = (second - first) / m
        level = np.repeat((first + slope * (m - 1) / 2)[:, None], len(ETS_GRID), axis=1)  # at time m - 1
        trend = np.repeat(slope[:, None], len(ETS_GRID), axis=1)
        season = np.repeat((y[:, :m] - first[:, None]).T[:, :, None], len(ETS_GRID), axis=2)  # (m, series, grid)
        sse = np.zeros_like(level)
        self.states: dict[int, tuple[np.ndarray, ...]] = {}
        for t in range(m, n + 1):
            if t in stops:
                self.states[t] = (level.copy(), trend.copy(), season.copy(), sse.copy())
            if t == n:
                break
            slot = t % m
            damped = p * trend
            err = y[:, t][:, None] - (level + damped + season[slot])
            level = level + damped + a * err
            trend = damped + b * err
            season[slot] += g * err
            sse += err**2
        self.m = m

    def forecast(self, stop: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        """Forecast of the fit on the first `stop` points: best grid point per series by one-step SSE."""
        level, trend, season, sse = self.states[stop]
        best = np.argmin(sse, axis=1)
        rows = np.arange(len(best))
        a, b, g, p = (ETS_GRID[best, k][:, None] for k in range(4))
        steps = np.arange(1, h + 1)[None, :]
        damp_sum = np.where(np.abs(1 - p) < 1e-9, steps, p * (1 - p**steps) / (1 - p))
        slots = (stop + steps - 1) % self.m  # season slot of each future step
        future_season = season[slots, rows[:, None], best[:, None]]
        mean = level[rows, best][:, None] + damp_sum * trend[rows, best][:, None] + future_season
        n_params = 4 + 2 + self.m  # smoothing, damping, initial level/trend/season
        sigma = np.sqrt(sse[rows, best] / max(stop - self.m - n_params, 1))
        j = np.arange(1, h)[None, :]
        c = a + b * (p * (1 - p**j) / (1 - p)) + g * (j % self.m == 0)
        var = np.concatenate([np.ones((len(best), 1)), 1.0 + np.cumsum(c**2, axis=1)], axis=1)
        return mean, sigma[:, None] * np.sqrt(var)


# --------------------------------------------------------------------------- backtest and forecast


def _multiplier(z: np.ndarray, level: float, normal_q: float) -> np.ndarray:
    """Per series (axis 0): max(normal quantile, quantile of all |z|, quantile of the later half of steps)."""
    if z.shape[1] == 0:
        return np.full(len(z), normal_q)
    late = z[:, :, z.shape[2] // 2 :].reshape(len(z), -1)
    with np.errstate(invalid="ignore"):  # inf - inf between two infinite z (sd 0, error not 0): NaN, read as inf
        q_all = np.quantile(z.reshape(len(z), -1), level, axis=1)
        q_late = np.quantile(late, level, axis=1)
    return np.fmax(normal_q, np.fmax(np.nan_to_num(q_all, nan=np.inf), np.nan_to_num(q_late, nan=np.inf)))


def _z(err: np.ndarray, sd: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(err) / sd
    return np.where(np.abs(err) <= 1e-12 * (1 + np.abs(sd)), 0.0, z)


def forecast_matrix(y: np.ndarray, h: int, m: int, folds: int = 5) -> BatchForecast:
    """Backtest every model in `BATCH_MODELS` on every row of `y` and forecast `h` steps with the chosen one.

    Rows must satisfy `eligible`; the result matches `forecast(series, h, m, candidates=...)` for seasonal
    naive and follows the same selection and interval rules for the others.
    """
    s_count, n = y.shape
    origins, hb = _plan(n, h, m, folds)
    ets = _EtsPass(y, m, [*origins, n])
    fits = {
        BASELINE: lambda stop, k: _seasonal_naive(y[:, :stop], k, m),
        "ets": ets.forecast,
        "linear_trend_season": lambda stop, k: _linear(y[:, :stop], k, m),
    }
    k_models, k_folds = len(BATCH_MODELS), len(origins)
    mase = np.empty((s_count, k_models, k_folds))
    smape = np.empty_like(mase)
    z = np.empty((s_count, k_models, k_folds, hb))
    for f, origin in enumerate(origins):
        train, test = y[:, :origin], y[:, origin : origin + hb]
        lag = m if origin > m else 1
        scale = np.mean(np.abs(train[:, lag:] - train[:, :-lag]), axis=1)
        for k, name in enumerate(BATCH_MODELS):
            mean, sd = fits[name](origin, hb)
            err = test - mean
            mae = np.mean(np.abs(err), axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                mase[:, k, f] = np.where(scale > 0, mae / scale, np.where(mae == 0, 0.0, np.inf))
                denom = np.abs(test) + np.abs(mean)
                smape[:, k, f] = np.mean(np.where(denom > 0, 200 * np.abs(err) / denom, 0.0), axis=1)
            z[:, k, f] = _z(err, sd)
    mase_mean, smape_mean = mase.mean(axis=2), smape.mean(axis=2)
    cov80 = np.empty((s_count, k_models))
    cov95 = np.empty_like(cov80)
    scale80 = np.empty_like(cov80)
    scale95 = np.empty_like(cov80)
    for k in range(k_models):
        zk = z[:, k]
        scale80[:, k] = _multiplier(zk, 0.80, Z80)
        scale95[:, k] = _multiplier(zk, 0.95, Z95)
        inside80, inside95 = [], []
        for f in range(k_folds):
            others = np.delete(zk, f, axis=1)
            inside80.append(zk[:, f] <= _multiplier(others, 0.80, Z80)[:, None] + 1e-12)
            inside95.append(zk[:, f] <= _multiplier(others, 0.95, Z95)[:, None] + 1e-12)
        cov80[:, k] = np.mean(np.concatenate(inside80, axis=1), axis=1)
        cov95[:, k] = np.mean(np.concatenate(inside95, axis=1), axis=1)

    scored = np.where(np.isfinite(mase_mean), mase_mean, np.inf)
    best = np.argmin(scored, axis=1)  # ties go to the earlier model: the baseline first
    constant = np.ptp(y, axis=1) <= 1e-12 * np.maximum(1.0, np.abs(y).max(axis=1))
    chosen = np.where((scored[np.arange(s_count), best] < scored[:, 0]) & ~constant, best, 0)
    mean = np.empty((s_count, h))
    sd80, sd95 = np.empty_like(mean), np.empty_like(mean)
    for k, name in enumerate(BATCH_MODELS):
        rows = chosen == k
        if rows.any():
            full_mean, full_sd = fits[name](n, h)
            mean[rows] = full_mean[rows]
            # an infinite multiplier (a backtest that missed with sd 0) or an exploding sd gives a non-finite
            # interval: expected, such series are forecast one by one (account_forecasts.py, `kept`)
            with np.errstate(over="ignore", invalid="ignore"):
                sd80[rows] = full_sd[rows] * scale80[rows, k][:, None]
                sd95[rows] = full_sd[rows] * scale95[rows, k][:, None]
    return BatchForecast(models=BATCH_MODELS, mase=mase_mean, smape=smape_mean, coverage_80=cov80,
                         coverage_95=cov95, folds=k_folds, horizon=hb, chosen=chosen, constant=constant, mean=mean,
                         sd_80=sd80, sd_95=sd95)
