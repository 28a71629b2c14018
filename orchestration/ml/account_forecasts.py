"""Daily usage forecasts for every account and metric, in seconds for thousands of series (issues 4 and 14).

Each series (one account, one metric, its last `history_days` days up to the as-of day) gets 80 %/95 %
intervals and a model chosen by its own rolling-origin backtest MASE against seasonal naive, which is kept -
and said so in `model_reason` - when nothing beats it.

Series are grouped by their dates (same first and last day) into (series x day) matrices and every model is
backtested on every series at once by `orchestration.ml.batch_forecasting` (seasonal naive, ETS(A,Ad,A),
linear trend + season; same backtest and interval rules as `forecast()`). 2,000 accounts x 4 metrics x 90
days take a few seconds; fitting them one by one with statsmodels took most of an hour (issue 14), which is
why the previous version backtested the full family set only on a sample per plan.

The rest goes through `orchestration.ml.forecasting.forecast` one by one: accounts younger than two weeks
(its short-series path: seasonal naive or naive, Student-t widened intervals), a metric an active account
never uses (a constant series: flat forecast, zero-width intervals) and series with missing days. Series the
batch found no finite MASE for (a training window without variation, e.g. a metric first used last month)
take `forecast()`'s short-series path too; they are sent to it with the baseline alone, since the fold scales
that made every MASE infinite are the same for any model: backtesting the ETS family on them only to reach the
same verdict took three quarters of the per-account time on the demo (116 such series of 7,208). Series of
accounts with no usage at all in the window are not forecast (the forecast would be zero).

`families` summarises the backtests per stratum (the account's current plan, ``none`` without one) and
metric: median MASE and sMAPE of each model over all the stratum's backtested series, and on how many series
it was the best; `chosen` marks the model with the lowest median MASE when it beats seasonal naive's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from orchestration.ml.batch_forecasting import BATCH_MODELS, eligible, forecast_matrix
from orchestration.ml.forecasting import DEFAULT_FOLDS, forecast

SEASON = 7
BASELINE = "seasonal_naive"
FAMILY_SOURCE = "all backtested series of the stratum"
CONSTANT_REASON = "constant series: flat forecast with zero-width intervals"  # forecast()'s words

FORECAST_COLUMNS = ["account_id", "metric", "usage_date", "yhat", "yhat_lower", "yhat_upper",
                    "yhat_lower_80", "yhat_upper_80", "model", "forecast_origin"]
BACKTEST_COLUMNS = ["account_id", "metric", "stratum", "model", "mase", "smape", "coverage_80",
                    "coverage_95", "folds", "horizon", "chosen", "model_reason", "forecast_origin"]
FAMILY_COLUMNS = ["stratum", "metric", "model", "series_sampled", "median_mase", "median_smape",
                  "wins", "chosen", "source"]
INTERVALS = ["yhat", "yhat_lower", "yhat_upper", "yhat_lower_80", "yhat_upper_80"]


@dataclass
class AccountForecastRun:
    forecasts: pd.DataFrame  # FORECAST_COLUMNS, one row per series and future day
    backtests: pd.DataFrame  # BACKTEST_COLUMNS, one row per series and backtested model
    families: pd.DataFrame  # FAMILY_COLUMNS, one row per stratum, metric and model
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class SeriesBlock:
    """Series sharing their dates: one (account x day) matrix per metric, NaN on days without a row."""

    dates: pd.DatetimeIndex
    account_ids: np.ndarray
    values: dict[str, np.ndarray]


def series_blocks(daily: pd.DataFrame, metrics: Sequence[str], history_days: int) -> list[SeriesBlock]:
    """The last `history_days` days up to the newest usage_date of every active account, grouped by dates.

    `daily` has account_id, usage_date and the metric columns, one row per account and day (fct_usage_daily is
    dense from signup). An account's series runs from its first to its last row in the window; accounts with
    no usage in any metric over the window are left out.
    """
    missing = [c for c in ("account_id", "usage_date", *metrics) if c not in daily.columns]
    if missing:
        raise ValueError(f"daily usage frame lacks columns {missing}")
    if daily.empty:
        return []
    days = pd.to_datetime(daily["usage_date"])
    window = daily[days > days.max() - pd.Timedelta(days=history_days)].assign(day=days)
    wide = window.pivot(index="account_id", columns="day", values=list(metrics)).astype(float)
    grid = pd.date_range(window.day.min(), window.day.max(), freq="D")
    wide = wide.reindex(columns=pd.MultiIndex.from_product([list(metrics), grid]))
    matrices = {metric: wide[metric].to_numpy() for metric in metrics}
    present = ~np.isnan(np.stack(list(matrices.values()))).all(axis=0)  # (account, day): a row exists
    active = (np.nan_to_num(np.stack(list(matrices.values()))) > 0).any(axis=(0, 2))
    first = present.argmax(axis=1)
    last = present.shape[1] - 1 - present[:, ::-1].argmax(axis=1)
    blocks = []
    spans = pd.DataFrame({"first": first, "last": last})[active]
    for (start, stop), rows in spans.groupby(["first", "last"], sort=True).groups.items():
        rows = np.asarray(rows)
        blocks.append(SeriesBlock(grid[start : stop + 1], wide.index.to_numpy()[rows],
                                  {m: matrices[m][rows, start : stop + 1] for m in metrics}))
    return blocks


def account_series(daily: pd.DataFrame, metrics: Sequence[str], history_days: int) -> dict[tuple[int, str], pd.Series]:
    """`series_blocks` as one daily Series per (account, metric), sorted by account."""
    out = {}
    for block in series_blocks(daily, metrics, history_days):
        index = pd.DatetimeIndex(block.dates, freq="D")
        for i, account_id in enumerate(block.account_ids):
            for metric in metrics:
                out[(int(account_id), metric)] = pd.Series(block.values[metric][i], index=index, name=metric)
    return dict(sorted(out.items(), key=lambda item: item[0][0]))


def _reasons(mase: np.ndarray, chosen: np.ndarray) -> list[str]:
    """`forecast()`'s model_reason for each row of a batch backtest."""
    out = []
    for row, k in zip(mase, chosen, strict=True):
        if k == 0:
            out.append(f"no candidate beat {BASELINE} on backtest MASE ({row[0]:.3f}); using {BASELINE}")
        else:
            out.append(f"lowest backtest MASE ({row[k]:.3f} vs {BASELINE} {row[0]:.3f})")
    return out


def _batch(accounts: np.ndarray, metrics: np.ndarray, values: np.ndarray, dates: pd.DatetimeIndex, horizon: int,
           stratum_of: dict[int, str]) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Forecast and backtest frames of equal-dated eligible series (one per row: account, metric), as arrays.

    A constant series keeps only its seasonal-naive backtest row, as `forecast()` reports it. The rows left to
    `forecast()` (no finite MASE) are returned as a mask.
    """
    run = forecast_matrix(values, horizon, SEASON, DEFAULT_FOLDS)
    kept = np.isfinite(run.mase).any(axis=1) & np.isfinite(run.sd_95).all(axis=1)
    if not kept.all():  # no finite MASE (a flat training window, then usage): forecast()'s short-series path
        run = forecast_matrix(values[kept], horizon, SEASON, DEFAULT_FOLDS)
        accounts, metrics = accounts[kept], metrics[kept]
    s_count, k_models = run.mase.shape
    models = np.array(run.models)
    origin = dates[-1].date()
    future = pd.date_range(dates[-1] + pd.Timedelta(days=1), periods=horizon, freq="D").date
    mean = run.mean
    forecasts = pd.DataFrame({
        "account_id": np.repeat(accounts, horizon), "metric": np.repeat(metrics, horizon),
        "usage_date": np.tile(future, s_count),
        "yhat": mean.ravel(), "yhat_lower": (mean - run.sd_95).ravel(), "yhat_upper": (mean + run.sd_95).ravel(),
        "yhat_lower_80": (mean - run.sd_80).ravel(), "yhat_upper_80": (mean + run.sd_80).ravel(),
        "model": np.repeat(models[run.chosen], horizon), "forecast_origin": origin,
    })
    reasons = np.array(_reasons(run.mase, run.chosen), dtype=object)
    reasons[run.constant] = CONSTANT_REASON
    backtests = pd.DataFrame({
        "account_id": np.repeat(accounts, k_models), "metric": np.repeat(metrics, k_models),
        "stratum": [stratum_of[a] for a in np.repeat(accounts, k_models)],
        "model": np.tile(models, s_count), "mase": run.mase.ravel(), "smape": run.smape.ravel(),
        "coverage_80": run.coverage_80.ravel(), "coverage_95": run.coverage_95.ravel(),
        "folds": run.folds, "horizon": run.horizon,
        "chosen": (np.arange(k_models)[None, :] == run.chosen[:, None]).ravel(),
        "model_reason": np.repeat(reasons, k_models), "forecast_origin": origin,
    })
    keep = ~np.repeat(run.constant, k_models) | (backtests.model == BASELINE).to_numpy()
    return forecasts, backtests[keep], ~kept


def _one(account_id: int, metric: str, values: pd.Series, horizon: int, stratum: str,
         candidates: tuple[str, ...] = BATCH_MODELS[1:]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A series the batch does not cover (short, with gaps, or without a finite MASE), through `forecast()`."""
    result = forecast(values, horizon, SEASON, candidates=candidates)
    origin = values.index[-1].date()
    forecasts = result.reset_index(names="usage_date").assign(
        account_id=account_id, metric=metric, model=result.attrs["model"], forecast_origin=origin)
    forecasts["usage_date"] = forecasts["usage_date"].dt.date
    forecasts.attrs = {}  # the backtest frame in attrs would make pd.concat compare frames for equality
    table = result.attrs["backtest"]
    if table.empty:  # short series: the model used, without measured error
        table = pd.DataFrame({"model": [result.attrs["model"]]})
    backtests = table.assign(account_id=account_id, metric=metric, stratum=stratum,
                             chosen=table["model"] == result.attrs["model"],
                             model_reason=result.attrs["model_reason"], forecast_origin=origin)
    return forecasts, backtests


def summarise_families(backtests: pd.DataFrame, strata: Sequence[str], metrics: Sequence[str]) -> pd.DataFrame:
    """Per (stratum, metric): each model's median MASE/sMAPE and wins over the backtested series.

    A (stratum, metric) without any backtested series gets one seasonal-naive row without evidence.
    """
    measured = backtests[np.isfinite(backtests.mase.astype(float))]
    out = []
    for metric in metrics:
        for stratum in strata:
            own = measured[(measured.metric == metric) & (measured.stratum == stratum)]
            if own.empty:
                out.append(pd.DataFrame([{"stratum": stratum, "metric": metric, "model": BASELINE,
                                          "series_sampled": 0, "wins": 0, "chosen": True,
                                          "source": "no backtested series: seasonal naive"}]))
                continue
            wins = own.loc[own.groupby("account_id").mase.idxmin(), "model"].value_counts()
            summary = own.groupby("model").agg(series_sampled=("account_id", "nunique"),
                                               median_mase=("mase", "median"),
                                               median_smape=("smape", "median")).reset_index()
            summary["wins"] = summary.model.map(wins).fillna(0).astype(int)
            base = summary.loc[summary.model == BASELINE, "median_mase"]
            best = summary.sort_values(["median_mase", "model"]).iloc[0]
            family = BASELINE
            if len(base) and best.model != BASELINE and best.median_mase < base.iloc[0]:
                family = str(best.model)
            summary["chosen"] = summary.model == family
            out.append(summary.assign(stratum=stratum, metric=metric, source=FAMILY_SOURCE))
    frame = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=FAMILY_COLUMNS)
    return frame.reindex(columns=FAMILY_COLUMNS)


def forecast_accounts(daily: pd.DataFrame, strata: dict[int, str], metrics: Sequence[str], *, horizon: int = 28,
                      history_days: int = 90) -> AccountForecastRun:
    """Forecast every active account's daily usage per metric (see the module docstring).

    `strata` maps account_id to its stratum (plan id); accounts not in it are stratum ``none``.
    """
    if horizon < 1 or history_days < 2:
        raise ValueError(f"horizon ({horizon}) must be positive and history_days ({history_days}) >= 2")
    began = time.perf_counter()
    blocks = series_blocks(daily, metrics, history_days)
    prepared_at = time.perf_counter()
    stratum_of = {int(a): strata.get(int(a), "none") for block in blocks for a in block.account_ids}
    forecasts, backtests, single = [], [], []
    for block in blocks:  # all metrics of a block in one matrix: one pass per distinct date range
        matrix = np.vstack([block.values[metric] for metric in metrics])
        accounts = np.tile(block.account_ids, len(metrics))
        metric_of_row = np.repeat(np.array(metrics, dtype=object), len(block.account_ids))
        batch = eligible(matrix, horizon, SEASON, DEFAULT_FOLDS)
        without_mase = np.zeros(len(matrix), dtype=bool)
        if batch.any():
            f, b, redo = _batch(accounts[batch], metric_of_row[batch], matrix[batch], block.dates, horizon,
                                stratum_of)
            forecasts.append(f)
            backtests.append(b)
            redone = np.flatnonzero(batch)[redo]
            batch[redone], without_mase[redone] = False, True
        index = pd.DatetimeIndex(block.dates, freq="D")
        single += [(int(a), metric, pd.Series(row, index=index, name=metric),
                    () if no_mase else BATCH_MODELS[1:])
                   for a, metric, row, no_mase in zip(accounts[~batch], metric_of_row[~batch], matrix[~batch],
                                                      without_mase[~batch], strict=True)
                   if np.isfinite(row).sum() >= 2]
    batched_at = time.perf_counter()
    for account_id, metric, values, candidates in single:
        f, b = _one(account_id, metric, values, horizon, stratum_of[account_id], candidates)
        forecasts.append(f)
        backtests.append(b)
    finished = time.perf_counter()

    forecast_frame = (pd.concat(forecasts, ignore_index=True) if forecasts
                      else pd.DataFrame(columns=FORECAST_COLUMNS))
    forecast_frame[INTERVALS] = forecast_frame[INTERVALS].astype(float).clip(lower=0.0)
    backtest_frame = (pd.concat(backtests, ignore_index=True) if backtests
                      else pd.DataFrame(columns=BACKTEST_COLUMNS))
    backtest_frame = backtest_frame.reindex(columns=BACKTEST_COLUMNS)
    backtest_frame[["folds", "horizon"]] = backtest_frame[["folds", "horizon"]].astype("Float64").astype("Int64")
    families = summarise_families(backtest_frame, sorted(set(stratum_of.values())), metrics)
    n_series = int(backtest_frame.groupby(["account_id", "metric"]).ngroups)
    return AccountForecastRun(
        forecasts=forecast_frame[FORECAST_COLUMNS],
        backtests=backtest_frame,
        families=families,
        timings={
            "series": float(n_series),
            "batched_series": float(n_series - len(single)),
            "single_series": float(len(single)),
            "prepare_seconds": prepared_at - began,
            "batch_seconds": batched_at - prepared_at,
            "single_seconds": finished - batched_at,
            "seconds_per_series": (finished - prepared_at) / n_series if n_series else 0.0,
        },
    )
