"""Limits & plans and account insights (issue 4, parts 4 and 6) as Dagster assets.

`ml/limit_projections` projects each account's current month from fct_usage_daily and advises a
plan (orchestration.ml.limits); `ml/account_insights` turns the marts and those projections into
short per-account findings for the monthly report (orchestration.ml.insights). Both replace their
whole table in one transaction (latest as-of day only), so a re-run on the same marts leaves
identical rows. Definitions: docs/metrics.md, "Limits, plans and insights".
"""


from decimal import Decimal

import dagster as dg
import pandas as pd

from orchestration.defs.resources import WarehouseResource
from orchestration.ml.insights import build_insights
from orchestration.ml.limits import METRICS, project_limits, with_pricing
from orchestration.warehouse.frames import read_frame, replace_rows

FCT_USAGE_DAILY = dg.AssetKey(["marts", "fct_usage_daily"])
FCT_PLAN_UTILIZATION = dg.AssetKey(["marts", "fct_plan_utilization_monthly"])
DIM_ACCOUNTS = dg.AssetKey(["marts", "dim_accounts"])
DIM_PLANS = dg.AssetKey(["marts", "dim_plans"])
# The plan cost rule's terms, from dbt (docs/metrics.md, "Plan cost and overage")
INT_PLAN_PRICES = dg.AssetKey(["intermediate", "int_plan_prices"])
INT_PLAN_OVERAGE_RATES = dg.AssetKey(["intermediate", "int_plan_overage_rates"])
LIMIT_PROJECTIONS = dg.AssetKey(["ml", "limit_projections"])
ACCOUNT_INSIGHTS = dg.AssetKey(["ml", "account_insights"])

DAILY_HISTORY_DAYS = 120  # the current month, the previous one and the anomaly detector's history
_NIGHTLY = dg.AutomationCondition.on_cron("0 3 * * *")

DAILY_SQL = f"""
SELECT account_id, usage_date, audio_minutes_processed, sessions_created, exports_generated,
       storage_used_mb
FROM marts.fct_usage_daily
WHERE usage_date > (SELECT max(usage_date) FROM marts.fct_usage_daily) - {DAILY_HISTORY_DAYS}
ORDER BY account_id, usage_date
"""
ACCOUNTS_SQL = """
SELECT account_id,
       CASE WHEN current_subscription_status <> 'none' THEN current_plan_id END AS plan_id,
       CASE WHEN current_subscription_status <> 'none' THEN current_billing_period END AS billing_period,
       current_subscription_status = 'trialing' AS is_trial
FROM marts.dim_accounts
ORDER BY account_id
"""
PLANS_SQL = """
SELECT plan_id, plan_name, tier, limit_audio_minutes, limit_sessions, limit_exports, limit_storage_mb
FROM marts.dim_plans
ORDER BY tier, plan_id
"""
PRICES_SQL = "SELECT plan_id, billing_period, price_per_month FROM intermediate.int_plan_prices"
RATES_SQL = """
SELECT plan_id, dimension, included_units, overage_unit_price, caps_usage
FROM intermediate.int_plan_overage_rates
ORDER BY plan_id, dimension
"""
UTILIZATION_SQL = """
SELECT account_id, usage_month, plan_id, is_trial, max_utilization_pct, audio_minutes_processed,
       sessions_created, exports_generated, storage_used_mb
FROM marts.fct_plan_utilization_monthly
WHERE usage_month >= (SELECT max(usage_month) FROM marts.fct_plan_utilization_monthly) - interval '2 months'
ORDER BY account_id, usage_month
"""


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    """PostgreSQL numerics arrive as Decimal: make them floats for the pure functions."""
    for column in frame.columns:
        values = frame[column].dropna()
        if len(values) and isinstance(values.iloc[0], Decimal):
            frame[column] = frame[column].astype(float)
    return frame


def _priced_plans(url: str) -> pd.DataFrame:
    """dim_plans with each plan's cost terms from dbt (orchestration.ml.limits.with_pricing)."""
    return with_pricing(_numeric(read_frame(url, PLANS_SQL)), _numeric(read_frame(url, PRICES_SQL)),
                        _numeric(read_frame(url, RATES_SQL)))


def _for_copy(frame: pd.DataFrame, int_columns: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    for column in int_columns:
        frame[column] = frame[column].astype("Float64").round().astype("Int64")
    return frame


@dg.asset(
    key=LIMIT_PROJECTIONS,
    group_name="ml",
    kinds={"python", "postgres"},
    deps=[FCT_USAGE_DAILY, DIM_ACCOUNTS, DIM_PLANS, INT_PLAN_PRICES, INT_PLAN_OVERAGE_RATES],
    automation_condition=_NIGHTLY,
    description="Per account, the current month projected to its end per limited metric, limit-reach "
                "dates, the cheapest plan for the projection, the saving and an efficiency score.",
)
def limit_projections(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    daily = _numeric(read_frame(warehouse.url, DAILY_SQL))
    accounts = read_frame(warehouse.url, ACCOUNTS_SQL)
    frame = project_limits(daily, accounts, _priced_plans(warehouse.url))
    frame = _for_copy(frame, [f"limit_{m}" for m in METRICS] + ["days_observed", "days_in_month"])
    written = replace_rows(warehouse.url, "ml.limit_projections", frame)
    as_of = None if frame.empty else str(frame["as_of_date"].iloc[0])
    context.log.info("Projected %s accounts as of %s", written, as_of)
    return dg.MaterializeResult(metadata={
        "rows": written,
        "as_of_date": as_of,
        "accounts_with_saving": int(frame["cost_saving"].notna().sum()),
        "accounts_reaching_a_limit": int(frame[[f"{m}_reach_date" for m in METRICS]].notna().any(axis=1).sum()),
    })


@dg.asset(
    key=ACCOUNT_INSIGHTS,
    group_name="ml",
    kinds={"python", "postgres"},
    deps=[LIMIT_PROJECTIONS, FCT_USAGE_DAILY, FCT_PLAN_UTILIZATION, DIM_PLANS, INT_PLAN_PRICES, INT_PLAN_OVERAGE_RATES],
    automation_condition=_NIGHTLY,
    description="Per account: peak day, downgrade and upgrade-soon notes, recent anomalies and an "
                "anonymized percentile within its plan, as short sentences for the monthly report.",
)
def account_insights(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    projections = _numeric(read_frame(warehouse.url, "SELECT * FROM ml.limit_projections ORDER BY account_id"))
    daily = _numeric(read_frame(warehouse.url, DAILY_SQL))
    utilization = _numeric(read_frame(warehouse.url, UTILIZATION_SQL))
    frame = build_insights(daily, utilization, _priced_plans(warehouse.url), projections)
    written = replace_rows(warehouse.url, "ml.account_insights", frame)
    context.log.info("Wrote insights for %s accounts", written)
    return dg.MaterializeResult(metadata={
        "rows": written,
        "downgrade_suggestions": int(frame["downgrade_plan_id"].notna().sum()),
        "upgrade_soon": int(frame["upgrade_soon"].fillna(False).astype(bool).sum()),
        "accounts_with_anomalies": int((frame["anomaly_days_30d"].fillna(0) > 0).sum()),
    })


ml_account_assets = [limit_projections, account_insights]
