"""BG/NBD model of repeat activity (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

Why this model: a product's users do not tell us when they leave. An account that was active on
many days and then went quiet for a month may have churned, or may simply be between bursts.
The BG/NBD model separates the two from three numbers per account and gives, for each account,
the probability that it is still "alive" and the number of active days to expect in a coming
period, without needing a churn label.

Inputs, as computed in this platform for one account up to a cutoff date (units: days):

- ``frequency`` (x): the number of *repeat* active days, i.e. distinct active days after the
  first one. An account active on a single day has frequency 0.
- ``recency`` (t_x): days from the first active day to the last active day (0 when x = 0).
- ``T``: days from the first active day to the cutoff (the account's observation window).

Model assumptions (the generative story the likelihood is derived from):

1. While alive, an account's repeat activity follows a Poisson process with rate lambda
   (exponential gaps between active days).
2. Rates differ between accounts: lambda ~ Gamma(shape r, rate alpha).
3. Right after each repeat active day the account drops out for good with probability p
   (a geometric number of repeat days before dropout); dropout is never observed directly.
4. Dropout propensities differ between accounts: p ~ Beta(a, b).
5. lambda and p are independent across and within accounts.

alpha is a rate parameter, so it carries the time unit: fitting on weeks instead of days
multiplies alpha by 1/7 and leaves r, a, b unchanged.

All functions take array-likes (lists, numpy arrays, pandas Series) of equal length, one entry per
account, and are vectorised over accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy.special import betaln, expit, gammaln, hyp2f1

__all__ = [
    "BGNBDParams",
    "expected_purchases",
    "fit_bgnbd",
    "log_likelihood",
    "probability_alive",
]


@dataclass(frozen=True)
class BGNBDParams:
    """Fitted BG/NBD parameters.

    r, alpha: shape and rate of the Gamma distribution of purchase (active-day) rates.
    a, b: the Beta distribution of per-day dropout probabilities (mean dropout a / (a + b)).
    log_likelihood: the maximised total log-likelihood (``nan`` when built by hand).
    converged: whether the optimiser reported convergence.
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")
    converged: bool = True

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.r, self.alpha, self.a, self.b)


# Box on log-parameters for the optimiser: exp(+-15) spans 3e-7 .. 3e6, far beyond any sensible fit.
LOG_PARAM_BOUND = 15.0

ParamsLike = BGNBDParams | Sequence[float] | np.ndarray


def _unpack(params: ParamsLike) -> tuple[float, float, float, float]:
    values = params.as_tuple() if isinstance(params, BGNBDParams) else tuple(float(v) for v in params)
    if len(values) != 4:
        raise ValueError(f"params must be (r, alpha, a, b), got {len(values)} values")
    for name, value in zip(("r", "alpha", "a", "b"), values, strict=True):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"params: {name} must be a positive finite number, got {value!r}")
    return values


def _as_1d(values: object, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from exc
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _validate(frequency: object, recency: object, T: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check the per-account inputs and return them as float arrays (x, t_x, T)."""
    x = _as_1d(frequency, "frequency")
    t_x = _as_1d(recency, "recency")
    t_obs = _as_1d(T, "T")
    if not (len(x) == len(t_x) == len(t_obs)):
        raise ValueError(
            f"frequency, recency and T must have the same length, got {len(x)}, {len(t_x)} and {len(t_obs)}"
        )
    if len(x) == 0:
        raise ValueError("frequency, recency and T are empty")
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("frequency must contain non-negative integers (repeat active days)")
    if np.any(t_obs <= 0):
        raise ValueError("T must be positive (days from first active day to the cutoff)")
    if np.any(t_x < 0):
        raise ValueError("recency must be non-negative")
    if np.any(t_x > t_obs):
        raise ValueError("recency must not exceed T (the last active day cannot be after the cutoff)")
    if np.any((x == 0) & (t_x != 0)):
        # With no repeat day the first and last active days coincide; anything else means the
        # inputs were built with a different definition of recency.
        raise ValueError("recency must be 0 where frequency is 0 (first and last active day coincide)")
    return x, t_x, t_obs


def _log_likelihood(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, t_x: np.ndarray, t_obs: np.ndarray
) -> np.ndarray:
    """Per-account log of equation (6), written as log-sum-exp of its two terms.

    L = B(a, b+x)/B(a, b) * Gamma(r+x) alpha^r / (Gamma(r) (alpha+T)^(r+x))
        + [x > 0] B(a+1, b+x-1)/B(a, b) * Gamma(r+x) alpha^r / (Gamma(r) (alpha+t_x)^(r+x))

    The first term is "still alive at T", the second "dropped out right after the last active
    day". Both share Gamma(r+x) alpha^r / (Gamma(r) B(a, b)), which is factored out. Working in
    logs avoids the overflow of Gamma(r+x) and the underflow of (alpha+T)^-(r+x) for busy accounts.
    """
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    alive = betaln(a, b + x) - (r + x) * np.log(alpha + t_obs)
    repeat = x > 0
    # For x = 0 the dropout term is absent; evaluate betaln on a harmless argument and mask it.
    dropped = np.where(
        repeat,
        betaln(a + 1.0, b + np.maximum(x, 1.0) - 1.0) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return common + np.logaddexp(alive, dropped)


def log_likelihood(
    params: ParamsLike, frequency: object, recency: object, T: object, *, per_customer: bool = False
) -> float | np.ndarray:
    """BG/NBD log-likelihood (equation 6 of the paper) of the observed (x, t_x, T).

    ``params`` is a :class:`BGNBDParams` or an ``(r, alpha, a, b)`` sequence. Returns the total
    over accounts, or the per-account values when ``per_customer`` is true. Only x, t_x and T
    enter the likelihood: the model says the exact days of intermediate activity carry no extra
    information about lambda and p.
    """
    r, alpha, a, b = _unpack(params)
    x, t_x, t_obs = _validate(frequency, recency, T)
    values = _log_likelihood(r, alpha, a, b, x, t_x, t_obs)
    return values if per_customer else float(values.sum())


def _starting_values(x: np.ndarray, t_obs: np.ndarray) -> np.ndarray:
    """Rough log-parameter guesses from the data.

    r = 1 with alpha set so the prior mean rate r/alpha equals the pooled observed rate
    sum(x)/sum(T) (an underestimate, since dropped-out time is counted, but the right scale);
    a = 1, b = 3 puts the mean dropout probability at 0.25, a typical fitted value.
    """
    rate = max(float(x.sum()), 1.0) / float(t_obs.sum())
    return np.log([1.0, 1.0 / rate, 1.0, 3.0])


def fit_bgnbd(frequency: object, recency: object, T: object, *, max_iterations: int = 2000) -> BGNBDParams:
    """Fit (r, alpha, a, b) by maximum likelihood.

    The optimisation runs on log-parameters so that every step keeps them positive without
    constraints; the objective is the mean negative log-likelihood (scale-free in the number of
    accounts, so default tolerances behave for 100 or 10^6 accounts). L-BFGS-B is tried first from
    data-driven starting values; if it does not report convergence, Nelder-Mead continues from its
    end point, and the better of the two is returned. ``converged`` records whether the returned
    optimum was reported as converged.

    Accounts with frequency 0 (a single active day) are part of the fit: they are the main
    evidence for low rates and early dropout. Dropout (a, b) is only seen through silences after
    repeat activity, so it needs accounts with repeat days and windows long enough for silences to
    be informative; with no repeat activity at all a and b are not identified (the returned values
    are then just the starting values), and small samples give unstable estimates.
    A fit that ends on a bound of the log-parameter box is reported as not converged.
    """
    x, t_x, t_obs = _validate(frequency, recency, T)
    n = len(x)

    def objective(log_params: np.ndarray) -> float:
        # Bounds on log-parameters keep exp() finite; values outside mean a degenerate fit anyway.
        r, alpha, a, b = np.exp(np.clip(log_params, -30.0, 30.0))
        value = -_log_likelihood(r, alpha, a, b, x, t_x, t_obs).sum() / n
        return float(value) if np.isfinite(value) else np.inf

    start = _starting_values(x, t_obs)
    bounds = [(-LOG_PARAM_BOUND, LOG_PARAM_BOUND)] * 4
    result = optimize.minimize(objective, start, method="L-BFGS-B", bounds=bounds, options={"maxiter": max_iterations})
    if not result.success:
        polished = optimize.minimize(
            objective,
            result.x,
            method="Nelder-Mead",
            options={"maxiter": max_iterations, "xatol": 1e-8, "fatol": 1e-12},
        )
        if polished.fun <= result.fun:
            result = polished
    at_bound = bool(np.any(np.abs(result.x) >= LOG_PARAM_BOUND - 1e-6))
    converged = bool(result.success) and not at_bound
    r, alpha, a, b = (float(v) for v in np.exp(result.x))
    return BGNBDParams(r=r, alpha=alpha, a=a, b=b, log_likelihood=float(-result.fun * n), converged=converged)


def probability_alive(params: ParamsLike, frequency: object, recency: object, T: object) -> np.ndarray:
    """P(account still alive at T | x, t_x, T) (Fader, Hardie & Lee, "Computing P(alive) using the BG/NBD model").

    P = 1 / (1 + [x > 0] * a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x)), and 1 for x = 0: under the
    model an account can only drop out right after a repeat active day, so one with none is alive.
    The longer the silence since the last active day (T - t_x) relative to how busy the account
    was, the lower the probability. Computed as expit(-log odds) so busy accounts with long
    silences give 0 rather than overflow.
    """
    r, alpha, a, b = _unpack(params)
    x, t_x, t_obs = _validate(frequency, recency, T)
    repeat = x > 0
    log_odds_dead = (
        np.log(a) - np.log(b + np.maximum(x, 1.0) - 1.0) + (r + x) * (np.log(alpha + t_obs) - np.log(alpha + t_x))
    )
    return np.where(repeat, expit(-log_odds_dead), 1.0)


def expected_purchases(
    params: ParamsLike, t: float | np.ndarray, frequency: object, recency: object, T: object
) -> np.ndarray:
    """E[number of active days in (T, T + t] | x, t_x, T], equation (10) of the paper.

    The expected future activity of each account over the next ``t`` days given its history:
    the expected count if alive, weighted by P(alive). Uses the Gauss hypergeometric function;
    undefined for a = 1 exactly (the paper's formula has a / (a - 1) singularity there).
    """
    r, alpha, a, b = _unpack(params)
    if a == 1.0:
        raise ValueError("params: expected_purchases is undefined for a == 1")
    x, t_x, t_obs = _validate(frequency, recency, T)
    horizon = np.broadcast_to(np.asarray(t, dtype=float), x.shape)
    if not np.all(np.isfinite(horizon)) or np.any(horizon < 0):
        raise ValueError("t must be non-negative and finite")
    hyp = hyp2f1(r + x, b + x, a + b + x - 1.0, horizon / (alpha + t_obs + horizon))
    alive_part = (
        (a + b + x - 1.0)
        / (a - 1.0)
        * (1.0 - np.exp((r + x) * (np.log(alpha + t_obs) - np.log(alpha + t_obs + horizon))) * hyp)
    )
    return alive_part * probability_alive((r, alpha, a, b), x, t_x, t_obs)
