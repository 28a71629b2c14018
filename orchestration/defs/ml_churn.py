"""Churn risk assets: P(subscription churn in the next 30 days) per paying account.

One multi-asset trains (time-split evaluation + refit) and scores daily after the marts; the
method is documented in `orchestration/ml/churn_risk.py`. Each run replaces the evaluation row of
(model, cutoff) and the scores of its cutoff in one transaction each, so re-runs are idempotent.
"""


import json

import dagster as dg
import pandas as pd

from orchestration.defs.resources import WarehouseResource
from orchestration.ml.churn_features import ChurnInputs
from orchestration.ml.churn_risk import MODEL_NAME, ChurnRun, run_churn_model
from orchestration.warehouse.frames import read_frame, replace_rows

DAILY = dg.AutomationCondition.on_cron("0 3 * * *")
SCORES_KEY = dg.AssetKey(["ml", "churn_risk_scores"])
EVALUATIONS_KEY = dg.AssetKey(["ml", "model_evaluations"])
UPSTREAM = [
    dg.AssetKey(["marts", "fct_usage_daily"]),
    dg.AssetKey(["marts", "fct_mrr_monthly"]),
    dg.AssetKey(["marts", "dim_accounts"]),
    dg.AssetKey(["marts", "dim_plans"]),
    dg.AssetKey(["raw", "subscriptions"]),
    dg.AssetKey(["raw", "invoices"]),
]


class ChurnRiskConfig(dg.Config):
    horizon_days: int = 30
    cutoff_step_days: int = 7
    max_cutoffs: int = 26
    min_history_days: int = 14
    validation_fraction: float = 0.25


def load_inputs(url: str) -> tuple[ChurnInputs, pd.Timestamp | None]:
    """The model inputs from the warehouse, and the data horizon (end of the last usage day)."""
    usage = read_frame(url, """
        SELECT account_id, usage_date, sessions_created, audio_minutes_processed,
               transcriptions_completed, transcriptions_failed, exports_generated, storage_used_mb
        FROM marts.fct_usage_daily""")
    # The marts have no subscription-level table (staging is ephemeral): the latest version of
    # each row from raw, as stg_app__subscriptions does.
    subscriptions = read_frame(url, """
        SELECT DISTINCT ON (subscription_id) subscription_id, account_id, plan_id, billing_period,
               is_trial, started_at, ended_at, end_reason
        FROM raw.subscriptions ORDER BY subscription_id, updated_at DESC""")
    plans = read_frame(url, """
        SELECT plan_id, tier, is_free, monthly_price, annual_price_per_month, limit_audio_minutes,
               limit_sessions, limit_storage_mb, limit_exports FROM marts.dim_plans""")
    accounts = read_frame(url, "SELECT account_id, signup_at FROM marts.dim_accounts")
    invoices = read_frame(url, "SELECT account_id, issued_at, status FROM raw.invoices")
    mrr = read_frame(url, "SELECT account_id, mrr_month, movement FROM marts.fct_mrr_monthly")
    numeric_usage = ["audio_minutes_processed", "storage_used_mb"]
    usage[numeric_usage] = usage[numeric_usage].astype(float)
    numeric_plans = ["monthly_price", "annual_price_per_month", "limit_audio_minutes", "limit_sessions",
                     "limit_storage_mb", "limit_exports"]
    plans[numeric_plans] = plans[numeric_plans].astype(float)
    horizon = (pd.Timestamp(usage.usage_date.max()).tz_localize("UTC") + pd.Timedelta(days=1)
               if len(usage) else None)
    return ChurnInputs(usage, subscriptions, plans, accounts, invoices, mrr), horizon


def evaluation_frame(run: ChurnRun, trained_at: pd.Timestamp) -> pd.DataFrame:
    row = dict(run.evaluation)
    row["trained_at"] = trained_at
    row["calibration"] = json.dumps(row["calibration"])
    row["features"] = json.dumps(row["features"])
    frame = pd.DataFrame([row])
    for c in ("n_train", "n_validation", "n_train_positive", "n_validation_positive", "horizon_days"):
        frame[c] = frame[c].astype("Int64")
    return frame


@dg.multi_asset(
    name="churn_risk",
    specs=[
        dg.AssetSpec(SCORES_KEY, group_name="ml", automation_condition=DAILY, deps=UPSTREAM,
                     kinds={"scikit-learn", "postgres"},
                     description="P(subscription churn within 30 days) per paying account at the "
                                 "latest cutoff, with risk band and top drivers."),
        dg.AssetSpec(EVALUATIONS_KEY, group_name="ml", automation_condition=DAILY, deps=UPSTREAM,
                     kinds={"scikit-learn", "postgres"},
                     description="One row per training run: time-split holdout ROC AUC, PR AUC, "
                                 "Brier, Brier skill and calibration table."),
    ],
)
def churn_risk(context: dg.AssetExecutionContext, config: ChurnRiskConfig,
               warehouse: WarehouseResource):
    inputs, horizon = load_inputs(warehouse.url)
    if horizon is None:
        context.log.warning("marts.fct_usage_daily is empty: nothing to train or score")
        yield dg.MaterializeResult(asset_key=SCORES_KEY, metadata={"rows": 0})
        yield dg.MaterializeResult(asset_key=EVALUATIONS_KEY, metadata={"rows": 0})
        return
    run = run_churn_model(inputs, horizon, horizon_days=config.horizon_days,
                          step_days=config.cutoff_step_days, max_cutoffs=config.max_cutoffs,
                          min_history_days=config.min_history_days,
                          validation_fraction=config.validation_fraction)
    ev = run.evaluation
    cutoff = ev["cutoff"]
    trained_at = pd.Timestamp.now(tz="UTC")
    scores = run.scores.assign(scored_at=trained_at)[
        ["account_id", "cutoff", "scored_at", "model_name", "churn_probability", "risk_band", "top_drivers"]]
    replace_rows(warehouse.url, "ml.churn_risk_scores", scores, "cutoff = %(cutoff)s",
                 {"cutoff": cutoff.to_pydatetime()})
    replace_rows(warehouse.url, "ml.model_evaluations", evaluation_frame(run, trained_at),
                 "model_name = %(model)s AND cutoff = %(cutoff)s",
                 {"model": MODEL_NAME, "cutoff": cutoff.to_pydatetime()})
    if ev["reason"]:
        context.log.warning("Churn model evaluation incomplete: %s", ev["reason"])
    metrics = {k: ev[k] for k in ("roc_auc", "pr_auc", "brier", "brier_skill", "base_rate")}
    yield dg.MaterializeResult(asset_key=SCORES_KEY, metadata={
        "rows": len(scores), "cutoff": cutoff.isoformat(),
        "by_band": dg.MetadataValue.json(scores.risk_band.value_counts().to_dict()),
    })
    yield dg.MaterializeResult(asset_key=EVALUATIONS_KEY, metadata={
        **{k: dg.MetadataValue.float(float(v)) for k, v in metrics.items() if v is not None},
        "n_train": ev["n_train"], "n_validation": ev["n_validation"],
        "calibration_method": ev["calibration_method"] or "not fitted", "reason": ev["reason"] or "",
        "calibration": dg.MetadataValue.json(ev["calibration"]),
    })


ml_churn_assets = [churn_risk]
