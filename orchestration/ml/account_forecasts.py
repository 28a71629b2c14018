"""Daily usage forecasts for every account and metric, affordable for thousands of series (issue 4, part 3).

Each series (one account, one metric, its last `history_days` days up to the as-of day) goes through
`orchestration.ml.forecasting.forecast`: 80 %/95 % intervals, model chosen by rolling-origin backtest MASE,
seasonal naive kept - and said so in `model_reason` - when nothing beats it.

Why not backtest all four candidate families on every series: Theta and Holt-Winters cost a numerical fit
per fold (~5-40 ms each on a 2-core machine), so the full backtest costs ~0.15-0.4 s per 90-day series, i.e.
~20-50 minutes for 2,000 accounts x 4 metrics, single-threaded. Instead, two passes:

1. **Family selection on a stratified sample.** Series are stratified by plan (the account's current plan,
   ``none`` without one) and metric. From each stratum up to `sample_per_stratum` non-constant series with
   at least `MIN_SAMPLE_POINTS` days are drawn at random (fixed seed) and backtested with every family. The
   stratum's family is the one with the lowest *median* MASE over the sample, if that median is below the
   seasonal-naive median; otherwise the stratum keeps seasonal naive alone. A stratum with fewer than
   `MIN_STRATUM_SAMPLE` eligible series uses the metric's pooled sample instead. The evidence (median MASE,
   sMAPE, wins per family) is returned as `families`.
2. **Per-series backtest with a bounded candidate set**: seasonal naive + the stratum's family. Every
   series still gets its own measured MASE, sMAPE and interval coverage next to seasonal naive, and keeps
   seasonal naive when its family does not beat it *on that series*. The cost per series is about
   one family's fits instead of three.

Series of accounts with no usage at all in the window are not forecast (the forecast would be zero); a metric
an active account never uses is a constant series and gets a flat zero forecast. Accounts younger than two
weeks fall to `forecast`'s short-series path (seasonal naive or naive, Student-t widened intervals).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from orchestration.ml.forecasting import backtest, forecast

SEASON = 7
BASELINE = "seasonal_naive"
MIN_SAMPLE_POINTS = 28  # four weeks: room for five backtest folds beside two seasons of training
MIN_STRATUM_SAMPLE = 3
POOLED = "all plans"

FORECAST_COLUMNS = ["account_id", "metric", "usage_date", "yhat", "yhat_lower", "yhat_upper",
                    "yhat_lower_80", "yhat_upper_80", "model", "forecast_origin"]
BACKTEST_COLUMNS = ["account_id", "metric", "stratum", "model", "mase", "smape", "coverage_80",
                    "coverage_95", "folds", "horizon", "chosen", "model_reason", "forecast_origin"]
FAMILY_COLUMNS = ["stratum", "metric", "model", "series_sampled", "median_mase", "median_smape",
                  "wins", "chosen", "source"]


@dataclass
class AccountForecastRun:
    forecasts: pd.DataFrame  # FORECAST_COLUMNS, one row per series and future day
    backtests: pd.DataFrame  # BACKTEST_COLUMNS, one row per series and backtested model
    families: pd.DataFrame  # FAMILY_COLUMNS, one row per stratum and model of the sample backtest
    timings: dict[str, float] = field(default_factory=dict)


def account_series(daily: pd.DataFrame, metrics: Sequence[str], history_days: int) -> dict[tuple[int, str], pd.Series]:
    """Daily series per (account, metric) over the last `history_days` days up to the newest usage_date.

    `daily` has account_id, usage_date and the metric columns, one row per account and day (fct_usage_daily is
    dense from signup). Accounts with no usage in any metric over the window are left out.
    """
    missing = [c for c in ("account_id", "usage_date", *metrics) if c not in daily.columns]
    if missing:
        raise ValueError(f"daily usage frame lacks columns {missing}")
    if daily.empty:
        return {}
    days = pd.to_datetime(daily["usage_date"])
    as_of = days.max()
    window = daily[days > as_of - pd.Timedelta(days=history_days)].assign(day=days)
    out: dict[tuple[int, str], pd.Series] = {}
    for account_id, rows in window.sort_values(["account_id", "day"]).groupby("account_id", sort=True):
        values = rows[list(metrics)].astype(float)
        if not (values.fillna(0).to_numpy() > 0).any():
            continue
        index = pd.date_range(rows["day"].iloc[0], rows["day"].iloc[-1], freq="D")
        values = values.set_axis(pd.DatetimeIndex(rows["day"])).reindex(index)
        for metric in metrics:
            out[(int(account_id), metric)] = values[metric].rename(metric)
    return out


def _eligible(series: pd.Series) -> bool:
    values = series.dropna().to_numpy()
    return len(values) >= MIN_SAMPLE_POINTS and bool(np.ptp(values) > 0)


def _sample_backtests(series: dict[tuple[int, str], pd.Series], strata: dict[int, str], horizon: int,
                      per_stratum: int, seed: int) -> pd.DataFrame:
    """Full-candidate backtests of a seeded random sample of eligible series per (stratum, metric)."""
    keys = sorted(k for k, s in series.items() if _eligible(s))
    frame = pd.DataFrame(keys, columns=["account_id", "metric"])
    if frame.empty:
        return pd.DataFrame(columns=["stratum", "metric", "account_id", "model", "mase", "smape"])
    frame["stratum"] = frame.account_id.map(strata).fillna("none")
    rng = np.random.default_rng(seed)
    rows = []
    for (stratum, metric), group in frame.groupby(["stratum", "metric"], sort=True):
        chosen = group.iloc[np.sort(rng.permutation(len(group))[:per_stratum])]
        for account_id in chosen.account_id:
            table = backtest(series[(account_id, metric)], horizon, SEASON)
            rows.append(table[["model", "mase", "smape"]].assign(stratum=stratum, metric=metric,
                                                                 account_id=account_id))
    return pd.concat(rows, ignore_index=True)


def _summarise(sample: pd.DataFrame, stratum: str, metric: str, source: str) -> pd.DataFrame:
    usable = sample[np.isfinite(sample.mase.astype(float))]
    wins = usable.loc[usable.groupby("account_id").mase.idxmin(), "model"].value_counts()
    summary = usable.groupby("model").agg(series_sampled=("account_id", "nunique"), median_mase=("mase", "median"),
                                          median_smape=("smape", "median")).reset_index()
    summary["wins"] = summary.model.map(wins).fillna(0).astype(int)
    base = summary.loc[summary.model == BASELINE, "median_mase"]
    best = summary.sort_values(["median_mase", "model"]).iloc[0] if len(summary) else None
    family = BASELINE
    if best is not None and len(base) and best.model != BASELINE and best.median_mase < base.iloc[0]:
        family = str(best.model)
    summary["chosen"] = summary.model == family
    return summary.assign(stratum=stratum, metric=metric, source=source)


def choose_families(sample: pd.DataFrame, strata: Sequence[str], metrics: Sequence[str]) -> pd.DataFrame:
    """Per (stratum, metric): the evidence for every family and the one chosen (see the module docstring).

    `source` says whose sample decided: the stratum's own, or the metric's pooled sample (small stratum).
    A (stratum, metric) without any usable sample keeps seasonal naive: one row, no evidence.
    """
    out = []
    for metric in metrics:
        pooled = sample[sample.metric == metric]
        for stratum in strata:
            own = pooled[pooled.stratum == stratum]
            if own.account_id.nunique() >= MIN_STRATUM_SAMPLE:
                out.append(_summarise(own, stratum, metric, "stratum sample"))
            elif pooled.account_id.nunique() > 0:
                out.append(_summarise(pooled, stratum, metric, f"pooled sample ({POOLED})"))
            else:
                out.append(pd.DataFrame([{"stratum": stratum, "metric": metric, "model": BASELINE,
                                          "series_sampled": 0, "wins": 0, "chosen": True,
                                          "source": "no eligible series: seasonal naive"}]))
    frame = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=FAMILY_COLUMNS)
    return frame.reindex(columns=FAMILY_COLUMNS)


def forecast_accounts(daily: pd.DataFrame, strata: dict[int, str], metrics: Sequence[str], *, horizon: int = 28,
                      history_days: int = 90, sample_per_stratum: int = 8, seed: int = 0) -> AccountForecastRun:
    """Forecast every active account's daily usage per metric (see the module docstring).

    `strata` maps account_id to its stratum (plan id); accounts not in it are stratum ``none``.
    """
    if horizon < 1 or history_days < 2 or sample_per_stratum < 1:
        raise ValueError(f"horizon ({horizon}), history_days ({history_days}) and sample_per_stratum "
                         f"({sample_per_stratum}) must be positive (history_days >= 2)")
    began = time.perf_counter()
    series = account_series(daily, metrics, history_days)
    prepared_at = time.perf_counter()
    sample = _sample_backtests(series, strata, horizon, sample_per_stratum, seed)
    sampled_at = time.perf_counter()
    stratum_of = {account_id: strata.get(account_id, "none") for account_id, _ in series}
    families = choose_families(sample, sorted(set(stratum_of.values())), metrics)
    family = {(r.stratum, r.metric): r.model for r in families[families.chosen].itertuples()}

    forecasts, backtests = [], []
    for (account_id, metric), values in series.items():
        if values.notna().sum() < 2:
            continue
        stratum = stratum_of[account_id]
        chosen_family = family.get((stratum, metric), BASELINE)
        result = forecast(values, horizon, SEASON, non_negative=True,
                          candidates=() if chosen_family == BASELINE else (chosen_family,))
        origin = values.index[-1].date()
        forecasts.append(result.reset_index(names="usage_date").assign(
            account_id=account_id, metric=metric, model=result.attrs["model"], forecast_origin=origin))
        table = result.attrs["backtest"]
        if table.empty:  # short or constant series: the model used, without measured error
            table = pd.DataFrame({"model": [result.attrs["model"]]})
        backtests.append(table.assign(account_id=account_id, metric=metric, stratum=stratum,
                                      chosen=table["model"] == result.attrs["model"],
                                      model_reason=result.attrs["model_reason"], forecast_origin=origin))
    finished = time.perf_counter()

    forecast_frame = (pd.concat(forecasts, ignore_index=True) if forecasts
                      else pd.DataFrame(columns=FORECAST_COLUMNS))
    forecast_frame["usage_date"] = pd.to_datetime(forecast_frame["usage_date"]).dt.date
    backtest_frame = (pd.concat(backtests, ignore_index=True) if backtests
                      else pd.DataFrame(columns=BACKTEST_COLUMNS))
    backtest_frame = backtest_frame.reindex(columns=BACKTEST_COLUMNS)
    backtest_frame[["folds", "horizon"]] = backtest_frame[["folds", "horizon"]].astype("Float64").astype("Int64")
    n_sampled = int(sample.groupby(["metric", "account_id"]).ngroups) if len(sample) else 0
    return AccountForecastRun(
        forecasts=forecast_frame[FORECAST_COLUMNS],
        backtests=backtest_frame,
        families=families,
        timings={
            "series": float(len(forecasts)),
            "sampled_series": float(n_sampled),
            "prepare_seconds": prepared_at - began,
            "sample_seconds": sampled_at - prepared_at,
            "forecast_seconds": finished - sampled_at,
            "seconds_per_sampled_series": (sampled_at - prepared_at) / n_sampled if n_sampled else 0.0,
            "seconds_per_series": (finished - sampled_at) / len(forecasts) if forecasts else 0.0,
        },
    )
