"""Per-account daily usage forecasts (issue 4, part 3) as one Dagster multi-asset.

Reads the last `history_days` of marts.fct_usage_daily and each account's current plan, forecasts
every active account's daily usage per metric with `orchestration.ml.account_forecasts` (every
series backtests every model against seasonal naive, all series at once as array operations),
and replaces the three tables in one transaction each. Cost per series is in the run's metadata.
"""

import dagster as dg

from orchestration.defs.resources import WarehouseResource
from orchestration.ml.account_forecasts import forecast_accounts
from orchestration.ml.platform_series import USAGE_METRICS
from orchestration.warehouse.frames import read_frame, replace_rows

DAILY = dg.AutomationCondition.on_cron("0 3 * * *")
FORECASTS_KEY = dg.AssetKey(["ml", "account_usage_forecasts"])
BACKTESTS_KEY = dg.AssetKey(["ml", "account_forecast_backtests"])
FAMILIES_KEY = dg.AssetKey(["ml", "account_forecast_families"])
UPSTREAM = [dg.AssetKey(["marts", "fct_usage_daily"]), dg.AssetKey(["marts", "dim_accounts"])]


class AccountForecastConfig(dg.Config):
    horizon_days: int = 28
    history_days: int = 90


@dg.multi_asset(
    name="account_usage_forecasts",
    specs=[
        dg.AssetSpec(FORECASTS_KEY, group_name="ml", automation_condition=DAILY, deps=UPSTREAM,
                     kinds={"statsmodels", "postgres"},
                     description="Each active account's daily usage per metric for the next 28 days, "
                                 "with 80%/95% intervals."),
        dg.AssetSpec(BACKTESTS_KEY, group_name="ml", automation_condition=DAILY, deps=UPSTREAM,
                     kinds={"statsmodels", "postgres"},
                     description="Per account and metric: rolling-origin backtest (MASE, sMAPE, coverage) "
                                 "of seasonal naive and the other models; `chosen` marks the model used."),
        dg.AssetSpec(FAMILIES_KEY, group_name="ml", automation_condition=DAILY, deps=UPSTREAM,
                     kinds={"statsmodels", "postgres"},
                     description="Per plan x metric: each model's median backtest MASE and wins over the "
                                 "stratum's series; `chosen` marks the best median when it beats seasonal naive."),
    ],
)
def account_usage_forecasts(context: dg.AssetExecutionContext, config: AccountForecastConfig,
                            warehouse: WarehouseResource):
    columns = ", ".join(USAGE_METRICS)
    daily = read_frame(warehouse.url, f"""
        SELECT account_id, usage_date, {columns} FROM marts.fct_usage_daily
        WHERE usage_date > (SELECT max(usage_date) FROM marts.fct_usage_daily) - %(days)s
        ORDER BY account_id, usage_date""", {"days": config.history_days})
    plans = read_frame(warehouse.url, """
        SELECT account_id, current_plan_id FROM marts.dim_accounts
        WHERE current_subscription_status <> 'none' AND current_plan_id IS NOT NULL""")
    run = forecast_accounts(daily, dict(zip(plans.account_id, plans.current_plan_id, strict=True)), USAGE_METRICS,
                            horizon=config.horizon_days, history_days=config.history_days)
    replace_rows(warehouse.url, "ml.account_usage_forecasts", run.forecasts)
    replace_rows(warehouse.url, "ml.account_forecast_backtests", run.backtests)
    replace_rows(warehouse.url, "ml.account_forecast_families", run.families)
    chosen = run.backtests[run.backtests.chosen]
    timings = {k: round(v, 4) for k, v in run.timings.items()}
    context.log.info("Forecast %d series: %s", len(chosen), timings)
    kept_baseline = chosen.model_reason.str.startswith("no candidate beat")
    yield dg.MaterializeResult(asset_key=FORECASTS_KEY, metadata={
        "rows": len(run.forecasts), "series": len(chosen),
        "accounts": int(chosen.account_id.nunique()),
        "models": dg.MetadataValue.json(chosen.model.value_counts().to_dict()),
        "cost": dg.MetadataValue.json(timings),
    })
    backtest_metadata = {"rows": len(run.backtests),
                         "series_keeping_seasonal_naive_after_backtest": int(kept_baseline.sum())}
    if chosen.mase.notna().any():
        backtest_metadata["median_chosen_mase"] = float(chosen.mase.median())
    yield dg.MaterializeResult(asset_key=BACKTESTS_KEY, metadata=backtest_metadata)
    yield dg.MaterializeResult(asset_key=FAMILIES_KEY, metadata={
        "rows": len(run.families),
        "families": dg.MetadataValue.json({f"{r.stratum}/{r.metric}": r.model
                                           for r in run.families[run.families.chosen].itertuples()}),
    })


ml_account_forecast_assets = [account_usage_forecasts]
