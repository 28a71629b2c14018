"""Univariate forecasting with prediction intervals, model chosen per series by rolling-origin backtest.

Public API
----------
``forecast(series, horizon, season_length=None, *, non_negative=False, folds=5, candidates=None) -> DataFrame``
    Columns ``yhat``, ``yhat_lower``/``yhat_upper`` (95 %) and ``yhat_lower_80``/``yhat_upper_80`` (80 %),
    indexed by the ``horizon`` future timestamps (frequency from ``index.freq`` or ``pd.infer_freq``).
    ``df.attrs["model"]`` is the chosen model, ``df.attrs["model_reason"]`` says why, ``df.attrs["backtest"]``
    is the backtest table (see below), ``df.attrs["interval_method"]`` how the intervals were built,
    ``df.attrs["model_detail"]`` the configuration within the family (ETS), ``df.attrs["season_length"]`` the
    period used (None: no season) and ``df.attrs["season_reason"]`` why (given, or inferred from the data).

``backtest(series, horizon, season_length=None, folds=5, candidates=None) -> DataFrame``
    One row per candidate model: ``mase`` (scaled by the in-sample seasonal-naive MAE of each fold's training
    window, averaged over folds), ``smape`` (percent, 0-200), ``coverage_80`` / ``coverage_95`` (share of
    held-out points inside the intervals, see "Intervals"), ``folds``, ``horizon`` (backtest horizon actually
    used), ``interval_scale_80`` / ``interval_scale_95`` (the multipliers used for the final intervals), ``error``.
    This is the shape stored in ``ml.forecast_backtests``.

Candidates
----------
* ``seasonal_naive`` (or ``naive`` without a season) -- the baseline;
* ``ets`` -- exponential smoothing state-space models (statsmodels ``ETSModel``): additive or multiplicative
  error, no / additive / damped additive trend, additive or multiplicative season (multiplicative error and
  season only for a strictly positive series; a multiplicative season with a multiplicative error). The
  configuration is the one with the lowest AICc on the whole series, chosen once and then backtested fold by
  fold (re-choosing it per fold would multiply the cost by the family's size); ``attrs["model_detail"]`` names
  it, e.g. ``ETS(M,Ad,M)``. Folds start from statsmodels' heuristic initial states; the final fit estimates them;
* ``log_ets`` -- for strictly positive series: the additive ETS family (no or damped trend: an undamped trend on
  the log scale is exponential growth) fitted to log(y). The point forecast is exp of the log-scale mean (the
  median) and the intervals are exp of the log-scale intervals, so they are asymmetric;
* ``theta`` -- the Theta method (statsmodels ``ThetaModel``; deseasonalised when a season is given, the training
  window holds two seasons and the series is strictly positive, as the multiplicative decomposition requires);
* ``linear_trend_season`` -- OLS on a linear trend plus seasonal dummies (``linear_trend`` without a season).

A candidate is chosen only if its backtest MASE is strictly lower than the baseline's; otherwise the baseline is
used and ``attrs["model_reason"]`` says that nothing beat it.

``candidates`` (names from ``CANDIDATE_MODELS``) bounds the set that is backtested; the baseline is always included.
Thousands of per-account series use it to backtest only the family that won on a sample of their peers
(``orchestration/ml/account_forecasts.py``): the backtest cost is proportional to the number of candidates.

Intervals
---------
Every model supplies a *native* Gaussian predictive standard deviation per horizon step (naive: sigma*sqrt(h);
seasonal naive: sigma*sqrt(ceil(h/m)); ETS: the analytical class-1 variance from the fitted smoothing
parameters, for a multiplicative error applied to the relative residuals times the point forecast, see
`_ets_sd`; log_ets: the same on the log scale, where the calibration below also runs; Theta: the SES variance
sigma^2 * (1 + (h-1) alpha^2) from the deseasonalised one-step residuals, because statsmodels' own Theta
interval is fitted on the raw seasonal series (far too wide) and is slow; OLS: the
textbook prediction variance). Native intervals alone are often too narrow (parameter uncertainty,
misspecification), and raw empirical quantiles per horizon step need far more folds than a short daily series
allows. So the backtest errors are standardised by the native sd of the fold's own fit, ``z = error / sd``,
pooled over all folds and steps, and the interval multiplier is ``max(normal quantile, empirical quantile of |z|
over all steps, same over the later half of the steps)``: the shape over the horizon is model-native, the width
is calibrated empirically (the later-half term guards against a native sd that grows too slowly with the
horizon) and never narrower than the model's own interval. ``coverage_80``/``coverage_95`` in the backtest table
are leave-one-fold-out estimates of this very method (the multiplier applied to fold *i* comes from the other
folds only), so they are not in-sample. Expect held-out coverage a few points under nominal on series with a
stochastic level (about 0.77 / 0.91 for 80 % / 95 % on the simulated series in tests/test_forecasting.py): five
overlapping folds see few independent level shocks, and the chosen model is the one that looked best on them.

Short series (fewer than ``max(8, 2 * season_length)`` points, or too short for a single backtest fold) skip the
backtest: the baseline (seasonal naive when at least one full season is available, else naive) is used and its
intervals are widened by using Student-t quantiles with the residual degrees of freedom instead of normal ones.
A constant series gives a flat forecast with zero-width intervals.

``season_length`` of 1 means no seasonality. ``None`` (the default) infers it from the data among the periods
plausible for the sampling step (`orchestration.ml.seasonality.infer_season_length`: daily 7, monthly 12, hourly
24 or 168, ...; no season when the autocorrelation shows none or the series is too short to tell);
``attrs["season_length"]`` is the period used (None: no season) and ``attrs["season_reason"]`` says why. A series
needs at least 2 non-missing observations.

Missing values are linearly interpolated in time (``Series.interpolate(method="time")``); leading/trailing gaps
are filled with the nearest observation. The index must be a regular DatetimeIndex: gaps in the timestamps
(not just NaN values) make the frequency uninferable and raise ``ValueError``.

statsmodels warnings raised while fitting are caught locally (``warnings.catch_warnings``) around each fit.
`forecast` and `backtest` run with BLAS limited to one thread (`orchestration.ml.blas_threads`: OpenBLAS's
thread pool made each small fit wait for a core, 4-8x slower on a busy machine).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from orchestration.ml.blas_threads import single_blas_thread
from orchestration.ml.seasonality import infer_season_length

__all__ = ["CANDIDATE_MODELS", "backtest", "forecast"]

Z80 = float(stats.norm.ppf(0.90))
Z95 = float(stats.norm.ppf(0.975))
MIN_POINTS = 8
DEFAULT_FOLDS = 5


@dataclass
class _Fit:
    mean: np.ndarray  # point forecasts, length h (on the log scale when `log`)
    sd: np.ndarray  # native Gaussian predictive sd per step, length h (idem)
    dof: int  # residual degrees of freedom behind sd (used for the short-series t quantiles)
    log: bool = False  # fitted to log(y): the point forecast is exp(mean) (the median), intervals exp(mean +/- k sd)
    detail: str = ""  # the configuration within a family, e.g. "ETS(M,Ad,M)"

    @property
    def point(self) -> np.ndarray:
        return np.exp(self.mean) if self.log else self.mean

    def interval(self, k: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lower, upper = self.mean - k * self.sd, self.mean + k * self.sd
        return (np.exp(lower), np.exp(upper)) if self.log else (lower, upper)

    def errors(self, actual: np.ndarray) -> np.ndarray:
        """Errors on the scale the sd is on (log for a log fit; a non-positive actual is infinitely far)."""
        if not self.log:
            return actual - self.mean
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(actual > 0, np.log(np.where(actual > 0, actual, 1.0)) - self.mean, np.inf)


# --------------------------------------------------------------------------- helpers


def _use_season(n: int, m: int | None) -> bool:
    return m is not None and n >= 2 * m


def _is_constant(y: np.ndarray) -> bool:
    return bool(np.ptp(y) <= 1e-12 * max(1.0, float(np.max(np.abs(y)))))


def _sigma(resid: np.ndarray, n_params: int = 0) -> tuple[float, int]:
    resid = resid[np.isfinite(resid)]
    dof = max(len(resid) - n_params, 1)
    if len(resid) == 0:
        return 0.0, 1
    return float(np.sqrt(np.sum(resid**2) / dof)), dof


def _quiet(fn: Callable[[], object]) -> object:
    """Run a statsmodels fit with its warnings (convergence, runtime, value) silenced locally."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn()


# --------------------------------------------------------------------------- candidate models


def _fit_naive(y: np.ndarray, h: int, m: int | None) -> _Fit:
    sigma, dof = _sigma(np.diff(y))
    steps = np.arange(1, h + 1)
    return _Fit(np.full(h, y[-1], dtype=float), sigma * np.sqrt(steps), dof)


def _fit_seasonal_naive(y: np.ndarray, h: int, m: int | None) -> _Fit:
    if m is None or len(y) < m:
        return _fit_naive(y, h, m)
    sigma, dof = _sigma(y[m:] - y[:-m])
    steps = np.arange(h)
    mean = y[len(y) - m + steps % m].astype(float)
    return _Fit(mean, sigma * np.sqrt(steps // m + 1), dof)


def _ets_configs(y: np.ndarray, m: int | None, additive_only: bool) -> list[tuple[str, str | None, str | None]]:
    """(error, trend, season) configurations of the ETS family tried: none, additive or damped additive trend.

    Multiplicative error and season need a strictly positive series; a multiplicative season goes with a
    multiplicative error (ETS(A,*,M) is numerically unstable, Hyndman et al. 2008, ch. 2.5).
    """
    seasonal = "add" if _use_season(len(y), m) else None
    trends = (None, "damped") if additive_only else (None, "add", "damped")  # log scale: no exponential growth
    configs = [("add", trend, seasonal) for trend in trends]
    if not additive_only and bool(np.all(y > 0)):
        configs += [("mul", trend, "mul" if seasonal else None) for trend in trends]
    return configs


def _ets_sd(res: object, mean: np.ndarray, error: str, m: int | None, seasonal: bool) -> np.ndarray:
    """Predictive sd of a fitted ETS model from its one-step residuals and smoothing parameters.

    Additive error: the exact class-1 variance sigma^2 * (1 + sum_{j<h} c_j^2), c_j = alpha + beta * phi_j +
    gamma * [j mod m == 0], phi_j = phi + ... + phi^j (Hyndman et al. 2008, ch. 6). Multiplicative error:
    the same growth applied to the relative residuals' sigma times the point forecast - an approximation
    (statsmodels simulates these, ~100x slower); the backtest calibrates the width either way.
    """
    p = dict(zip(res.model.param_names, np.asarray(res.params, dtype=float), strict=True))
    alpha = float(p["smoothing_level"])
    beta = float(p.get("smoothing_trend", 0.0) or 0.0)
    gamma = float(p.get("smoothing_seasonal", 0.0) or 0.0) if seasonal else 0.0
    phi = float(p.get("damping_trend", 1.0) or 1.0)
    n_params = len(p)
    sigma, _ = _sigma(np.asarray(res.resid, dtype=float), n_params)
    j = np.arange(1, len(mean))
    damp = j.astype(float) if abs(1 - phi) < 1e-9 else phi * (1 - phi**j) / (1 - phi)
    c = alpha + beta * damp
    if seasonal:
        c = c + gamma * (j % m == 0)
    growth = np.sqrt(np.concatenate([[1.0], 1.0 + np.cumsum(c**2)]))
    return sigma * growth * (np.abs(mean) if error == "mul" else 1.0)


EtsConfig = tuple[str, str | None, str | None]  # (error, trend, season); trend None, "add" or "damped"


def _ets_result(y: np.ndarray, m: int | None, config: EtsConfig, estimate_start: bool = False) -> object | None:
    """A statsmodels `ETSModel` fit of one configuration; None when it cannot be fitted.

    The initial states come from statsmodels' heuristic (a decomposition of the first cycles), ~30x faster than
    estimating them, unless `estimate_start` (the final fit: on a near-deterministic series such as co2 the
    estimated start halves the hold-out error) or the series is too short for the heuristic. Folds are not
    warm-started from the whole series' parameters: that saved ~10 % of the likelihood evaluations (measured on
    tests/test_public_datasets.py's series) and would let the fold's optimiser start from what the future says.
    """
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    error, trend, season = config
    heuristic = not estimate_start and len(y) >= 10 + (2 * (m // 2) if season else 0)
    model = ETSModel(y, error=error, trend="add" if trend else None, damped_trend=trend == "damped",
                     seasonal=season, seasonal_periods=m if season else None,
                     initialization_method="heuristic" if heuristic else "estimated")
    try:
        res = _quiet(lambda: model.fit(disp=False))
    except (ValueError, np.linalg.LinAlgError):  # an inadmissible start for this configuration
        return None
    return res if np.isfinite(res.aicc) else None


def _select_ets(y: np.ndarray, m: int | None, additive_only: bool = False) -> EtsConfig:
    """The configuration of the ETS family with the lowest AICc on `y`."""
    fits = [(res.aicc, config) for config in _ets_configs(y, m, additive_only)
            if (res := _ets_result(y, m, config)) is not None]
    if not fits:
        raise ValueError("no ETS configuration could be fitted")
    return min(fits, key=lambda fit: fit[0])[1]


def _ets_name(config: EtsConfig) -> str:
    error, trend, season = config
    trend_code = {None: "N", "add": "A", "damped": "Ad"}[trend]
    return f"ETS({error[0].upper()},{trend_code},{season[0].upper() if season else 'N'})"


def _fit_ets(y: np.ndarray, h: int, m: int | None, config: EtsConfig | None = None,
             estimate_start: bool = False) -> _Fit:
    config = config or _select_ets(y, m)
    res = _ets_result(y, m, config, estimate_start) or _ets_result(y, m, config)
    if res is None:
        raise ValueError(f"{_ets_name(config)} could not be fitted")
    mean = np.asarray(_quiet(lambda: res.forecast(h)), dtype=float)
    sd = _ets_sd(res, mean, config[0], m, config[2] is not None)
    return _Fit(mean, sd, max(len(y) - len(res.params), 1), detail=_ets_name(config))


def _fit_log_ets(y: np.ndarray, h: int, m: int | None, config: EtsConfig | None = None,
                 estimate_start: bool = False) -> _Fit:
    if not np.all(y > 0):
        raise ValueError("log_ets needs a strictly positive series")
    fit = _fit_ets(np.log(y), h, m, config or _select_ets(np.log(y), m, additive_only=True), estimate_start)
    fit.log, fit.detail = True, f"log {fit.detail}"
    return fit


def _bind(name: str, fit: Callable[..., _Fit], y: np.ndarray, m: int | None) -> Callable[..., _Fit]:
    """ETS candidates choose their configuration once, by AICc on the whole series (see "Candidates")."""
    if name not in ("ets", "log_ets"):
        return fit
    try:
        if name == "ets":
            config = _select_ets(y, m)
        elif np.all(y > 0):
            config = _select_ets(np.log(y), m, additive_only=True)
        else:
            return fit  # raises on the first fold: reported as the candidate's error
    except ValueError as exc:
        reason = exc

        def unfittable(*_: object) -> _Fit:
            raise reason

        return unfittable
    return functools.partial(fit, config=config)


def _fit_theta(y: np.ndarray, h: int, m: int | None) -> _Fit:
    from statsmodels.tsa.forecasting.theta import ThetaModel
    from statsmodels.tsa.seasonal import seasonal_decompose

    seasonal = _use_season(len(y), m)
    positive = bool(np.all(y > 0))
    deseasonalize = seasonal and positive
    model = ThetaModel(y, period=m if seasonal else 1, deseasonalize=deseasonalize, use_test=False)
    res = _quiet(model.fit)
    mean = np.asarray(_quiet(lambda: res.forecast(h)), dtype=float)
    # statsmodels' own Theta interval estimates sigma^2 from an ARIMA(0,1,1) on the *raw* (still seasonal) series,
    # which is far too wide for seasonal data (and slow). Use the SES-with-drift one-step residuals of the
    # deseasonalised series instead, with the SES variance growth sigma^2 * (1 + (h-1) * alpha^2).
    factors = np.ones(len(y))
    if deseasonalize:
        factors = np.asarray(_quiet(lambda: seasonal_decompose(y, model="mul", period=m).seasonal), dtype=float)
        if factors.min() <= 0:  # statsmodels falls back to additive in this case: mirror it approximately
            factors = np.ones(len(y))
    x = y / factors
    alpha = float(res.params["alpha"])
    b0 = float(res.params["b0"])
    level, resid = x[0], np.empty(len(x) - 1)
    for t in range(1, len(x)):
        resid[t - 1] = x[t] - level - b0
        level = alpha * x[t] + (1 - alpha) * level
    sigma, dof = _sigma(resid, 2)
    sd = sigma * np.sqrt(1 + np.arange(h) * alpha**2)
    if deseasonalize:
        sd = sd * factors[len(y) - m + np.arange(h) % m]
    return _Fit(mean, sd, dof)


def _fit_linear(y: np.ndarray, h: int, m: int | None) -> _Fit:
    n = len(y)
    seasonal = _use_season(n, m)

    def design(t: np.ndarray) -> np.ndarray:
        cols = [np.ones_like(t, dtype=float), t / n]
        if seasonal:
            cols += [(t % m == k).astype(float) for k in range(1, m)]
        return np.column_stack(cols)

    x = design(np.arange(n))
    xf = design(np.arange(n, n + h))
    xtx_inv = np.linalg.pinv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    sigma, dof = _sigma(y - x @ beta, x.shape[1])
    leverage = np.einsum("ij,jk,ik->i", xf, xtx_inv, xf)
    return _Fit(xf @ beta, sigma * np.sqrt(1 + leverage), dof)


CANDIDATE_MODELS = ("seasonal_naive", "naive", "ets", "log_ets", "theta", "linear_trend_season", "linear_trend")


def _candidates(
    m: int | None, only: tuple[str, ...] | None = None
) -> dict[str, Callable[[np.ndarray, int, int | None], _Fit]]:
    """The baseline first, then the other families; `only` keeps the named ones (the baseline always stays)."""
    baseline = ("seasonal_naive", _fit_seasonal_naive) if m else ("naive", _fit_naive)
    models = {
        baseline[0]: baseline[1],
        "ets": _fit_ets,
        "log_ets": _fit_log_ets,
        "theta": _fit_theta,
        "linear_trend_season" if m else "linear_trend": _fit_linear,
    }
    if only is None:
        return models
    return {name: fit for i, (name, fit) in enumerate(models.items()) if i == 0 or name in only}


def _only(candidates: object) -> tuple[str, ...] | None:
    if candidates is None:
        return None
    if isinstance(candidates, str) or not all(isinstance(c, str) for c in candidates):
        raise ValueError(f"candidates must be a sequence of model names, got {candidates!r}")
    unknown = sorted(set(candidates) - set(CANDIDATE_MODELS))
    if unknown:
        raise ValueError(f"unknown candidate models {unknown}; choose from {list(CANDIDATE_MODELS)}")
    return tuple(candidates)


# --------------------------------------------------------------------------- input handling


def _validate(series: object, horizon: object, season_length: object, folds: object = DEFAULT_FOLDS) -> None:
    if not isinstance(series, pd.Series):
        raise ValueError(f"series must be a pandas Series, got {type(series).__name__}")
    if not isinstance(series.index, pd.DatetimeIndex):
        raise ValueError(f"series must have a DatetimeIndex, got {type(series.index).__name__}")
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    if season_length is not None and (
        isinstance(season_length, bool) or not isinstance(season_length, int | np.integer) or season_length < 1
    ):
        raise ValueError(f"season_length must be None or an integer >= 1, got {season_length!r}")
    if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or folds < 1:
        raise ValueError(f"folds must be an integer >= 1, got {folds!r}")


def _freq(series: pd.Series) -> pd.DateOffset:
    idx = series.index
    if idx.freq is not None:
        return idx.freq
    if len(idx) < 3:
        raise ValueError(
            f"cannot infer the frequency of series {series.name!r}: need at least 3 timestamps or index.freq set"
        )
    if not idx.is_monotonic_increasing or idx.has_duplicates:
        raise ValueError(f"series {series.name!r} index must be sorted and free of duplicate timestamps")
    with warnings.catch_warnings():  # pandas 3 warns that infer_freq will return an offset; to_offset takes both
        warnings.simplefilter("ignore")
        freq = pd.infer_freq(idx)
    if freq is None:
        raise ValueError(
            f"cannot infer the frequency of series {series.name!r} (irregular or missing timestamps); "
            "reindex it to a regular frequency or set index.freq"
        )
    return pd.tseries.frequencies.to_offset(freq)


def _clean(series: pd.Series) -> np.ndarray:
    values = pd.to_numeric(series, errors="coerce").astype(float)
    values = values.replace([np.inf, -np.inf], np.nan)
    if values.notna().sum() < 2:
        raise ValueError(f"series {series.name!r} needs at least 2 non-missing observations")
    if values.isna().any():
        values = values.interpolate(method="time", limit_direction="both")
    return values.to_numpy(dtype=float)


def _season(season_length: int | None, series: pd.Series, y: np.ndarray) -> tuple[int | None, str]:
    """The period used (None: no season) and why: given by the caller, or inferred from the data."""
    if season_length is not None:
        m = int(season_length) if season_length > 1 else None
        return m, f"given: season_length={season_length}"
    inferred = infer_season_length(y, series.index)
    return inferred.period, f"inferred: {inferred.reason}"


# --------------------------------------------------------------------------- backtest


def _scale(train: np.ndarray, m: int | None) -> float:
    lag = m if m and len(train) > m else 1
    return float(np.mean(np.abs(train[lag:] - train[:-lag])))


def _plan(n: int, h: int, m: int | None, folds: int) -> tuple[list[int], int]:
    """Rolling origins (training lengths) and the backtest horizon; ([], 0) when no fold fits."""
    min_train = max(MIN_POINTS, 2 * (m or 1) + 2, n // 3)
    hb = min(h, n - min_train)
    if hb < 1:
        return [], 0
    span = n - hb - min_train
    step = max(1, min(hb, span // max(folds - 1, 1))) if folds > 1 else 1
    origins = [n - hb - step * k for k in range(folds) if n - hb - step * k >= min_train]
    return sorted(origins), hb


def _z(err: np.ndarray, sd: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(err) / sd
    return np.where(np.abs(err) <= 1e-12 * (1 + np.abs(sd)), 0.0, z)  # exact hits count as 0 even when sd == 0


def _multiplier(z: np.ndarray, level: float, normal_q: float) -> float:
    """Interval multiplier from standardised backtest errors ``z`` (folds x steps).

    The larger of the normal quantile, the empirical quantile of all |z| and that of the later half of the
    horizon steps: when the model's native sd grows too slowly over the horizon, long-range errors dominate.
    """
    if z.size == 0:
        return normal_q
    late = z[:, z.shape[1] // 2 :]
    qs = [normal_q]
    for part in (z, late):
        part = part[~np.isnan(part)]
        if part.size:
            with np.errstate(invalid="ignore"):  # inf - inf between two infinite z (sd 0, error not 0)
                qs.append(float(np.quantile(part, level)))
    return float(max(qs))


def _bound_candidates(y: np.ndarray, m: int | None, only: tuple[str, ...] | None) -> dict[str, Callable[..., _Fit]]:
    """The candidates for `y`, each bound once to its configuration (ETS: AICc on the whole series), so the
    backtest and the final fit share that choice instead of making it twice. A constant series: the baseline."""
    cands = _candidates(m, only)
    if _is_constant(y):
        cands = dict(list(cands.items())[:1])
    return {name: _bind(name, fit, y, m) for name, fit in cands.items()}


def _run_backtest(y: np.ndarray, h: int, m: int | None, folds: int, cands: dict[str, Callable[..., _Fit]]
                  ) -> pd.DataFrame:
    origins, hb = _plan(len(y), h, m, folds)
    rows = []
    for name, fit in cands.items():
        mases, smapes, zs, error = [], [], [], None
        for origin in origins:
            train, test = y[:origin], y[origin : origin + hb]
            try:
                f = fit(train, hb, m)
            except Exception as exc:  # a candidate that cannot be fitted is reported, not fatal
                error = f"{type(exc).__name__}: {exc}"
                break
            point = f.point
            if not np.all(np.isfinite(point)):
                error = "non-finite forecast"
                break
            err = test - point
            scale = _scale(train, m)
            mae = float(np.mean(np.abs(err)))
            mases.append(mae / scale if scale > 0 else (0.0 if mae == 0 else math.inf))
            denom = np.abs(test) + np.abs(point)
            with np.errstate(divide="ignore", invalid="ignore"):
                smapes.append(float(np.mean(np.where(denom > 0, 200 * np.abs(err) / denom, 0.0))))
            zs.append(_z(f.errors(test), f.sd))
        ok = error is None and len(zs) > 0
        cov80 = cov95 = math.nan
        if ok:
            inside80, inside95 = [], []
            for i, z in enumerate(zs):
                others = np.vstack([zz for k, zz in enumerate(zs) if k != i]) if len(zs) > 1 else np.empty((0, 0))
                inside80.append(z <= _multiplier(others, 0.80, Z80) + 1e-12)
                inside95.append(z <= _multiplier(others, 0.95, Z95) + 1e-12)
            cov80 = float(np.mean(np.concatenate(inside80)))
            cov95 = float(np.mean(np.concatenate(inside95)))
        all_z = np.vstack(zs) if ok else np.empty((0, 0))
        rows.append(
            {
                "model": name,
                "mase": float(np.mean(mases)) if ok else math.nan,
                "smape": float(np.mean(smapes)) if ok else math.nan,
                "coverage_80": cov80,
                "coverage_95": cov95,
                "folds": len(zs) if ok else 0,
                "horizon": hb,
                "interval_scale_80": _multiplier(all_z, 0.80, Z80),
                "interval_scale_95": _multiplier(all_z, 0.95, Z95),
                "error": error,
            }
        )
    return pd.DataFrame(rows)


@single_blas_thread
def backtest(
    series: pd.Series,
    horizon: int,
    season_length: int | None = None,
    folds: int = DEFAULT_FOLDS,
    candidates: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Rolling-origin backtest of every candidate model; one row per model (see the module docstring)."""
    _validate(series, horizon, season_length, folds)
    only = _only(candidates)
    _freq(series)
    y = _clean(series)
    m = _season(season_length, series, y)[0]
    return _run_backtest(y, int(horizon), m, int(folds), _bound_candidates(y, m, only))


# --------------------------------------------------------------------------- forecast


@single_blas_thread
def forecast(
    series: pd.Series,
    horizon: int,
    season_length: int | None = None,
    *,
    non_negative: bool = False,
    folds: int = DEFAULT_FOLDS,
    candidates: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Forecast ``horizon`` steps ahead with 80 % and 95 % intervals; the model is chosen by backtest MASE."""
    _validate(series, horizon, season_length, folds)
    only = _only(candidates)
    freq = _freq(series)
    y = _clean(series)
    h = int(horizon)
    m, season_reason = _season(season_length, series, y)
    n = len(y)
    baseline = "seasonal_naive" if m else "naive"
    index = pd.date_range(series.index[-1] + freq, periods=h, freq=freq, name=series.index.name)

    table = pd.DataFrame()
    if _is_constant(y):
        model, reason = baseline, "constant series: flat forecast with zero-width intervals"
        table = _run_backtest(y, h, m, folds, _bound_candidates(y, m, only))
        mean = np.full(h, y[-1])
        lower_95 = upper_95 = lower_80 = upper_80 = mean
        method, detail = "none (constant series)", ""
    else:
        short = n < max(MIN_POINTS, 2 * (m or 1)) or not _plan(n, h, m, folds)[0]
        why = f"short series ({n} points)"
        if not short:
            cands = _bound_candidates(y, m, only)
            table = _run_backtest(y, h, m, folds, cands)
            usable = table[table["error"].isna() & np.isfinite(table["mase"])]
            short = usable.empty
            why = "no finite backtest MASE (a training window without variation scales it by 0)"
        if short:
            model = "seasonal_naive" if m and n >= m else "naive"
            reason = f"{why}: {model} without backtest, Student-t widened intervals"
            fit = _fit_seasonal_naive(y, h, m) if model == "seasonal_naive" else _fit_naive(y, h, m)
            mean, detail = fit.point, fit.detail
            lower_80, upper_80 = fit.interval(float(stats.t.ppf(0.90, fit.dof)))
            lower_95, upper_95 = fit.interval(float(stats.t.ppf(0.975, fit.dof)))
            method = "model-native, Student-t quantiles (short series)"
        else:
            base_mase = float(table.loc[table["model"] == baseline, "mase"].iloc[0])
            best = usable.sort_values("mase", kind="stable").iloc[0]
            if best["model"] != baseline and best["mase"] < base_mase:
                model = str(best["model"])
                reason = f"lowest backtest MASE ({best['mase']:.3f} vs {baseline} {base_mase:.3f})"
            else:
                model = baseline
                reason = f"no candidate beat {baseline} on backtest MASE ({base_mase:.3f}); using {baseline}"
            row = table[table["model"] == model].iloc[0]
            try:
                final = cands[model]
                fit = final(y, h, m, estimate_start=True) if model in ("ets", "log_ets") else final(y, h, m)
            except Exception as exc:  # pragma: no cover - the backtest fitted it on shorter windows
                model = baseline
                reason = f"{row['model']} failed on the full series ({type(exc).__name__}); using {baseline}"
                row = table[table["model"] == baseline].iloc[0]
                fit = cands[baseline](y, h, m)
            mean, detail = fit.point, fit.detail
            lower_80, upper_80 = fit.interval(float(row["interval_scale_80"]))
            lower_95, upper_95 = fit.interval(float(row["interval_scale_95"]))
            method = "model-native sd, width calibrated on standardised backtest errors (never below native)"
            if fit.log:
                method += "; on the log scale, so the interval is asymmetric and the point is the median"

    out = pd.DataFrame(
        {
            "yhat": mean,
            "yhat_lower": lower_95,
            "yhat_upper": upper_95,
            "yhat_lower_80": lower_80,
            "yhat_upper_80": upper_80,
        },
        index=index,
    )
    if non_negative:
        out = out.clip(lower=0.0)
    out.attrs["model"] = model
    out.attrs["model_reason"] = reason
    out.attrs["model_detail"] = detail
    out.attrs["interval_method"] = method
    out.attrs["backtest"] = table
    out.attrs["season_length"] = m
    out.attrs["season_reason"] = season_reason
    return out
