"""Asset checks on the model outputs: invariants any reader of `ml.*` relies on, checked in SQL.

Each check counts the violating rows in the warehouse after the asset is written and fails (warning
severity: a model output is advisory, nothing downstream is blocked) when any exists; the counts are
the check's metadata. They run with every job that materializes their asset (`ml_job`, the nightly
automation).
"""

from __future__ import annotations

import dagster as dg

from orchestration.defs.resources import WarehouseResource
from orchestration.warehouse.frames import read_frame

_NON_FINITE = "{c} IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8)"
_INTERVAL_COLUMNS = ("yhat", "yhat_lower", "yhat_upper", "yhat_lower_80", "yhat_upper_80")


def _result(url: str, query: str, params: dict | None = None) -> dg.AssetCheckResult:
    """Run a query returning one row of counts: `bad_*` columns are violations, the others context."""
    counts = {k: int(v or 0) for k, v in read_frame(url, query, params).iloc[0].items()}
    passed = not any(v for k, v in counts.items() if k.startswith("bad_"))
    return dg.AssetCheckResult(passed=passed, severity=dg.AssetCheckSeverity.WARN, metadata=counts)


def _intervals_sql(table: str, key: str, extra: str = "") -> str:
    non_finite = " OR ".join(_NON_FINITE.format(c=c) for c in _INTERVAL_COLUMNS)
    return f"""
        SELECT count(*) AS rows, count(DISTINCT {key}) AS series,
               count(*) FILTER (WHERE NOT (yhat_lower <= yhat_lower_80 AND yhat_lower_80 <= yhat
                                           AND yhat <= yhat_upper_80 AND yhat_upper_80 <= yhat_upper))
                   AS bad_unordered_intervals,
               count(*) FILTER (WHERE {non_finite}) AS bad_non_finite {extra}
        FROM {table}"""


def _one_chosen_sql(table: str, key: str) -> str:
    return f"""
        SELECT count(*) AS series, count(*) FILTER (WHERE chosen_models <> 1) AS bad_series_without_one_chosen
        FROM (SELECT {key}, count(*) FILTER (WHERE chosen) AS chosen_models FROM {table} GROUP BY {key}) AS s"""


@dg.asset_check(asset=dg.AssetKey(["ml", "forecasts"]), description="95% ⊇ 80% interval ∋ yhat, all finite.")
def forecast_intervals_ordered(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(warehouse.url, _intervals_sql("ml.forecasts", "series_id"))


@dg.asset_check(asset=dg.AssetKey(["ml", "forecast_backtests"]), description="Exactly one chosen model per series.")
def forecast_one_chosen_model(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(warehouse.url, _one_chosen_sql("ml.forecast_backtests", "series_id"))


@dg.asset_check(asset=dg.AssetKey(["ml", "account_usage_forecasts"]),
                description="95% ⊇ 80% interval ∋ yhat, all finite, usage never below 0.")
def account_forecast_intervals_ordered(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(warehouse.url, _intervals_sql("ml.account_usage_forecasts", "(account_id, metric)",
                                                 ", count(*) FILTER (WHERE yhat_lower < 0) AS bad_negative"))


@dg.asset_check(asset=dg.AssetKey(["ml", "account_forecast_backtests"]),
                description="Exactly one chosen model per account series, and it is the model its forecast used.")
def account_forecast_one_chosen_model(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    query = f"""
        WITH counts AS ({_one_chosen_sql("ml.account_forecast_backtests", "account_id, metric")}),
        used AS (SELECT DISTINCT account_id, metric, model FROM ml.account_usage_forecasts)
        SELECT counts.*,
               (SELECT count(*) FROM used LEFT JOIN ml.account_forecast_backtests b
                  ON b.account_id = used.account_id AND b.metric = used.metric AND b.chosen
                WHERE b.model IS DISTINCT FROM used.model) AS bad_forecast_model_not_chosen
        FROM counts"""
    return _result(warehouse.url, query)


@dg.asset_check(asset=dg.AssetKey(["ml", "churn_risk_scores"]),
                description="A score row for every account paying at the latest cutoff; probabilities in [0, 1].")
def churn_scores_cover_paying_accounts(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    # Paying = a paid (non-trial, non-free) subscription in force at the cutoff: the latest version
    # of each raw.subscriptions row, as the model reads it, re-derived here in SQL.
    return _result(warehouse.url, """
        WITH cutoff AS (SELECT max(cutoff) AS at FROM ml.churn_risk_scores),
        latest AS (SELECT DISTINCT ON (subscription_id) * FROM raw.subscriptions
                   ORDER BY subscription_id, updated_at DESC),
        paying AS (SELECT DISTINCT s.account_id FROM latest AS s
                   JOIN marts.dim_plans AS p USING (plan_id) CROSS JOIN cutoff
                   WHERE NOT s.is_trial AND NOT p.is_free AND p.tier > 0 AND s.started_at < cutoff.at
                     AND (s.ended_at IS NULL OR s.ended_at >= cutoff.at)),
        scores AS (SELECT c.* FROM ml.churn_risk_scores AS c JOIN cutoff ON c.cutoff = cutoff.at)
        SELECT (SELECT count(*) FROM paying) AS paying_accounts,
               (SELECT count(*) FROM scores WHERE churn_probability IS NULL) AS unscored,
               (SELECT count(*) FROM paying WHERE account_id NOT IN (SELECT account_id FROM scores))
                   AS bad_paying_without_score,
               (SELECT count(*) FROM scores WHERE NOT churn_probability BETWEEN 0 AND 1)
                   AS bad_probability_out_of_range""")


@dg.asset_check(asset=dg.AssetKey(["ml", "model_evaluations"]),
                description="AUCs and Brier score within [0, 1] for every training run.")
def churn_evaluation_metrics_in_range(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(warehouse.url, """
        SELECT count(*) AS runs,
               count(*) FILTER (WHERE NOT roc_auc BETWEEN 0 AND 1 OR NOT pr_auc BETWEEN 0 AND 1
                                      OR NOT brier BETWEEN 0 AND 1) AS bad_metric_out_of_range
        FROM ml.model_evaluations""")


@dg.asset_check(asset=dg.AssetKey(["ml", "activity_alive"]), description="P(alive) within [0, 1].")
def probability_alive_in_range(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(warehouse.url, """
        SELECT count(*) AS accounts,
               count(*) FILTER (WHERE NOT probability_alive BETWEEN 0 AND 1) AS bad_probability_out_of_range
        FROM ml.activity_alive""")


@dg.asset_check(asset=dg.AssetKey(["ml", "anomaly_evaluations"]),
                description="Precision and recall within [0, 1]; no more events detected than injected.")
def anomaly_evaluation_consistent(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(warehouse.url, """
        SELECT count(*) AS rows,
               count(*) FILTER (WHERE NOT event_precision BETWEEN 0 AND 1 OR NOT event_recall BETWEEN 0 AND 1
                                      OR n_detected > n_events OR n_false_positives > n_detections)
                   AS bad_inconsistent_rows
        FROM ml.anomaly_evaluations""")


ml_asset_checks = [
    forecast_intervals_ordered,
    forecast_one_chosen_model,
    account_forecast_intervals_ordered,
    account_forecast_one_chosen_model,
    churn_scores_cover_paying_accounts,
    churn_evaluation_metrics_in_range,
    probability_alive_in_range,
    anomaly_evaluation_consistent,
]
