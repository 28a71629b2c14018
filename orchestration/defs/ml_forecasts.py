"""Platform-level models: forecasts with measured error, usage anomalies with the detector's
measured precision and recall on the same series, probability alive.

Unpartitioned daily assets after the marts. Forecasts publish the backtest of every candidate
next to the chosen model, so nobody has to take a forecast on faith.
"""

from datetime import timedelta

import dagster as dg
import pandas as pd

from orchestration.defs.ml_hourly_anomalies import hourly_usage_anomalies
from orchestration.defs.resources import WarehouseResource
from orchestration.ml import platform_series
from orchestration.ml.activity_alive import activity_summary, score_alive
from orchestration.ml.anomalies import detect_anomalies
from orchestration.ml.anomaly_evaluation import COLUMNS as EVALUATION_COLUMNS
from orchestration.ml.anomaly_evaluation import DETECTORS, MIN_DAYS, evaluate_on_series
from orchestration.ml.forecasting import forecast
from orchestration.warehouse.frames import read_frame, replace_rows

DAILY = dg.AutomationCondition.on_cron("0 3 * * *")

# series id -> (loader, horizon, season length)
FORECAST_SERIES = {
    "signups_daily": (platform_series.daily_signups, 30, 7),
    "mrr_monthly": (platform_series.monthly_mrr, 3, None),
    "revenue_monthly": (platform_series.monthly_revenue, 3, None),
}


def _forecast_rows(series_id: str, series: pd.Series, horizon: int,
                   season: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    result = forecast(series, horizon, season, non_negative=True)
    origin = series.index[-1]
    rows = result.reset_index(names="period_start").assign(
        series_id=series_id, model=result.attrs["model"],
        model_reason=result.attrs["model_reason"], forecast_origin=origin)
    backtest = result.attrs["backtest"]
    if backtest.empty:  # too short to backtest: record the model used, without measured error
        backtest = pd.DataFrame({"model": [result.attrs["model"]]})
    backtest = backtest.assign(series_id=series_id, forecast_origin=origin,
                               chosen=backtest["model"] == result.attrs["model"])
    return rows, backtest


@dg.multi_asset(
    name="platform_forecasts",
    specs=[
        dg.AssetSpec(["ml", "forecasts"], group_name="ml", automation_condition=DAILY,
                     description="Forecasts with 80%/95% intervals: daily signups, monthly MRR and "
                                 "revenue, platform daily usage per metric.",
                     deps=[["marts", "fct_signups_daily"], ["marts", "fct_mrr_summary_monthly"],
                           ["marts", "fct_revenue_monthly"], ["marts", "fct_usage_daily"]]),
        dg.AssetSpec(["ml", "forecast_backtests"], group_name="ml", automation_condition=DAILY,
                     description="Rolling-origin backtest (MASE, sMAPE, interval coverage) of "
                                 "every candidate model per series; `chosen` marks the one used."),
    ],
)
def platform_forecasts(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    series = {sid: (load(warehouse.url), h, m) for sid, (load, h, m) in FORECAST_SERIES.items()}
    for metric, values in platform_series.daily_usage(warehouse.url).items():
        series[f"usage_daily:{metric}"] = (values, 30, 7)
    forecasts, backtests, skipped = [], [], []
    for series_id, (values, horizon, season) in series.items():
        if len(values) < 2:
            skipped.append(series_id)
            continue
        rows, backtest = _forecast_rows(series_id, values, horizon, season)
        forecasts.append(rows)
        backtests.append(backtest)
    columns = ["series_id", "period_start", "yhat", "yhat_lower", "yhat_upper", "yhat_lower_80",
               "yhat_upper_80", "model", "model_reason", "forecast_origin"]
    bt_columns = ["series_id", "model", "mase", "smape", "coverage_80", "coverage_95", "folds",
                  "horizon", "chosen", "forecast_origin"]
    forecast_frame = pd.concat(forecasts)[columns] if forecasts else pd.DataFrame(columns=columns)
    backtest_frame = pd.concat(backtests)[bt_columns] if backtests else pd.DataFrame(columns=bt_columns)
    backtest_frame = backtest_frame.astype({"folds": "Int64", "horizon": "Int64"})
    replace_rows(warehouse.url, "ml.forecasts", forecast_frame)
    replace_rows(warehouse.url, "ml.forecast_backtests", backtest_frame)
    chosen = backtest_frame[backtest_frame.chosen]
    if skipped:
        context.log.warning("Too little history to forecast: %s", ", ".join(skipped))
    yield dg.MaterializeResult(asset_key=["ml", "forecasts"], metadata={
        "rows": len(forecast_frame),
        "models": dg.MetadataValue.json(dict(zip(chosen.series_id, chosen.model))),
        "skipped": dg.MetadataValue.json(skipped),
    })
    yield dg.MaterializeResult(asset_key=["ml", "forecast_backtests"], metadata={
        "rows": len(backtest_frame),
        "backtest": dg.MetadataValue.json(
            backtest_frame.drop(columns="forecast_origin").round(3).to_dict("records")),
    })


@dg.multi_asset(
    name="usage_anomalies",
    specs=[
        dg.AssetSpec(["ml", "usage_anomalies"], group_name="ml", automation_condition=DAILY,
                     deps=[["marts", "fct_usage_daily"]],
                     description="Robust seasonal anomaly scores of platform-wide daily usage per metric."),
        dg.AssetSpec(["ml", "anomaly_evaluations"], group_name="ml", automation_condition=DAILY,
                     deps=[["marts", "fct_usage_daily"]],
                     description="The detector's (and a rolling robust z-score baseline's) event-level precision, "
                                 "recall and delay on spikes, drops and level shifts injected into copies of "
                                 "the platform's own series."),
    ],
)
def usage_anomalies(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    frames, evaluations = [], []
    for metric, values in platform_series.daily_usage(warehouse.url).items():
        if values.empty:
            continue
        scored = detect_anomalies(values)
        frames.append(pd.DataFrame({
            "metric": metric, "usage_date": values.index.date, "value": values.to_numpy(),
            "expected": scored["expected"].to_numpy(), "score": scored["score"].to_numpy(),
            "is_anomaly": scored["is_anomaly"].to_numpy(),
        }))
        if values.notna().sum() < MIN_DAYS:
            context.log.warning("%s: %d days are too few to evaluate the detector (needs %d)",
                                metric, len(values), MIN_DAYS)
            continue
        for detector in DETECTORS:
            evaluations.append(evaluate_on_series(values, detector=detector).assign(
                metric=metric, detector=detector, evaluated_through=values.index[-1].date()))
    frame = pd.concat(frames) if frames else pd.DataFrame(
        columns=["metric", "usage_date", "value", "expected", "score", "is_anomaly"])
    replace_rows(warehouse.url, "ml.usage_anomalies", frame)
    evaluation_frame = pd.concat(evaluations) if evaluations else pd.DataFrame(
        columns=["metric", "detector", "evaluated_through", *EVALUATION_COLUMNS])
    replace_rows(warehouse.url, "ml.anomaly_evaluations", evaluation_frame)
    flagged = frame[frame.is_anomaly.astype(bool)]
    yield dg.MaterializeResult(asset_key=["ml", "usage_anomalies"], metadata={
        "rows": len(frame), "anomalies": len(flagged),
        "latest_anomalies": dg.MetadataValue.json(
            flagged.tail(10).assign(usage_date=flagged.usage_date.astype(str))[
                ["metric", "usage_date", "score"]].to_dict("records")),
    })
    overall = evaluation_frame[evaluation_frame.event_kind == "all"]
    yield dg.MaterializeResult(asset_key=["ml", "anomaly_evaluations"], metadata={
        "rows": len(evaluation_frame),
        "by_metric": dg.MetadataValue.json({
            f"{r.metric}/{r.detector}": {"precision": round(r.event_precision, 3), "recall": round(r.event_recall, 3)}
            for r in overall.itertuples()}),
    })


@dg.asset(
    key=["ml", "activity_alive"], group_name="ml", automation_condition=DAILY,
    deps=[["marts", "fct_usage_daily"]],
    description="BG/NBD probability that each account is still active, from its active days.",
)
def activity_alive(warehouse: WarehouseResource) -> dg.MaterializeResult:
    active = read_frame(warehouse.url, """
        SELECT account_id, usage_date FROM marts.fct_usage_daily
        WHERE sessions_created + exports_generated + api_calls > 0""")
    if active.empty:
        return dg.MaterializeResult(metadata={"accounts": 0})
    cutoff = pd.to_datetime(active.usage_date).max().date() + timedelta(days=1)
    scored, params = score_alive(activity_summary(active, cutoff))
    replace_rows(warehouse.url, "ml.activity_alive", scored)
    replace_rows(warehouse.url, "ml.bgnbd_fits", pd.DataFrame([{
        "cutoff_date": cutoff, "r": params.r, "alpha": params.alpha, "a": params.a, "b": params.b,
        "log_likelihood": params.log_likelihood, "converged": params.converged,
        "accounts": len(scored)}]), where="cutoff_date = %s", params=(cutoff,))
    return dg.MaterializeResult(metadata={
        "accounts": len(scored), "r": params.r, "alpha": params.alpha, "a": params.a,
        "b": params.b, "converged": params.converged,
        "mean_probability_alive": float(scored.probability_alive.mean()),
    })


ml_forecast_assets = [platform_forecasts, usage_anomalies, hourly_usage_anomalies, activity_alive]
