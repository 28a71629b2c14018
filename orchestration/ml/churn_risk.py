"""Churn risk per paying account: P(subscription churn in the next 30 days) (issue 4, part 1).

Pure functions on DataFrames; the Dagster asset (`orchestration/defs/ml_churn.py`) reads the
inputs from the warehouse and writes `ml.model_evaluations` and `ml.churn_risk_scores`.

Method
* Snapshots (`churn_features.py`): the accounts paying at each cutoff, with features from data
  strictly before it, labelled by churn in the `horizon_days` after it. Cutoffs step back from
  the latest labelled one (data horizon − horizon) every `cutoff_step_days`, no earlier than
  `min_history_days` after the first observed activity.
* Split by time, never at random: the latest `validation_fraction` of the labelled cutoffs
  (at least one) validate, the earlier ones train.
* Model: StandardScaler + L2 logistic regression (a Pipeline), then Platt (sigmoid) calibration
  with `CalibratedClassifierCV(FrozenEstimator(...))` fitted on the *latest* training cutoff,
  the model itself on the earlier ones — calibration never sees the past through the future.
  When that split is impossible (one training cutoff, or one class in a part) the model is fitted
  on all training cutoffs uncalibrated, and the evaluation says so (`calibration_method`).
* Metrics on the validation cutoffs: ROC AUC, PR AUC (average precision), Brier, and Brier skill
  = 1 − Brier / Brier_ref, where Brier_ref is the Brier score of always predicting the
  validation set's own churn rate (climatology, p(1 − p)). Calibration table: up to 10
  equal-count bins of predicted probability with mean predicted, observed rate and count.
  Metrics that are undefined (no positives, one class) are NULL with a `reason`.
* Scoring: the model refitted the same way on every labelled cutoff scores the accounts paying at
  the data horizon. Risk band: high >= 0.25, medium >= 0.10, else low (absolute thresholds on the
  calibrated probability; the base monthly churn in the demo is a few percent).
  Top drivers: the logistic model's signed contributions to the log-odds,
  coef × standardized value, i.e. relative to the training population's mean; the three largest
  positive ones (the features pushing that account's risk up most) with the raw value.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from orchestration.ml.churn_features import DAY, FEATURES, ChurnInputs, build_features, build_snapshots

MODEL_NAME = "churn_risk_logreg_v1"
HIGH_RISK = 0.25
MEDIUM_RISK = 0.10
TOP_DRIVERS = 3


@dataclass
class ChurnModel:
    base: Pipeline
    predictor: object  # the calibrated classifier, or `base` when uncalibrated
    calibration_method: str
    train_base_rate: float

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return self.predictor.predict_proba(features[FEATURES].to_numpy(float))[:, 1]

    def contributions(self, features: pd.DataFrame) -> np.ndarray:
        scaler: StandardScaler = self.base.named_steps["scale"]
        coef = self.base.named_steps["clf"].coef_[0]
        return scaler.transform(features[FEATURES].to_numpy(float)) * coef


@dataclass
class ChurnRun:
    evaluation: dict
    scores: pd.DataFrame
    snapshots: pd.DataFrame = field(repr=False)


def _base_model() -> Pipeline:
    return Pipeline([("scale", StandardScaler()),
                     ("clf", LogisticRegression(C=0.5, max_iter=2000))])


def _two_classes(y: np.ndarray) -> bool:
    return len(y) > 0 and 0 < y.sum() < len(y)


def fit_time_ordered(train: pd.DataFrame) -> tuple[ChurnModel | None, str | None]:
    """Fit on the earlier cutoffs and calibrate on the latest; (None, reason) when impossible."""
    y = train.label.to_numpy(int)
    if not _two_classes(y):
        return None, ("no churned accounts in the training cutoffs" if y.sum() == 0
                      else "every training account churned")
    x = train[FEATURES].to_numpy(float)
    cutoffs = sorted(train.cutoff.unique())
    if len(cutoffs) >= 2:
        last = (train.cutoff == cutoffs[-1]).to_numpy()
        if _two_classes(y[~last]) and _two_classes(y[last]):
            base = _base_model().fit(x[~last], y[~last])
            calibrated = CalibratedClassifierCV(FrozenEstimator(base), method="sigmoid")
            calibrated.fit(x[last], y[last])
            method = f"sigmoid on cutoff {pd.Timestamp(cutoffs[-1]).date()}, model on earlier cutoffs"
            return ChurnModel(base, calibrated, method, float(y.mean())), None
    base = _base_model().fit(x, y)
    return ChurnModel(base, base, "none (too few cutoffs or classes for a time-ordered calibration split)",
                      float(y.mean())), None


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict]:
    """Equal-count bins of predicted probability: bounds, mean predicted, observed rate, count."""
    if len(y) == 0:
        return []
    codes = pd.qcut(pd.Series(p).rank(method="first"), q=min(bins, len(p)), labels=False)
    frame = pd.DataFrame({"p": p, "y": y, "bin": codes.to_numpy()})
    rows = []
    for b, g in frame.groupby("bin"):
        rows.append({"bin": int(b), "p_min": float(g.p.min()), "p_max": float(g.p.max()),
                     "mean_predicted": float(g.p.mean()), "observed_rate": float(g.y.mean()),
                     "count": int(len(g))})
    return rows


def evaluate(y: np.ndarray, p: np.ndarray) -> tuple[dict, str | None]:
    """ROC AUC, PR AUC, Brier and Brier skill vs the set's own base rate; reason when undefined."""
    out: dict = {"roc_auc": None, "pr_auc": None, "brier": None, "brier_skill": None,
                 "calibration": calibration_table(y, p)}
    if len(y) == 0:
        return out, "no validation snapshots"
    out["brier"] = float(brier_score_loss(y, p, labels=[0, 1]))
    rate = float(y.mean())
    reference = rate * (1 - rate)
    if reference > 0:
        out["brier_skill"] = 1 - out["brier"] / reference
    if not _two_classes(y):
        return out, "validation cutoffs hold a single class: AUCs and Brier skill undefined"
    out["roc_auc"] = float(roc_auc_score(y, p))
    out["pr_auc"] = float(average_precision_score(y, p))
    return out, None


def choose_cutoffs(inputs: ChurnInputs, data_horizon: pd.Timestamp, *, horizon_days: int = 30,
                   step_days: int = 7, max_cutoffs: int = 26,
                   min_history_days: int = 14) -> tuple[pd.Timestamp, list[pd.Timestamp]]:
    """(score cutoff, labelled cutoffs oldest first); cutoffs are UTC midnights."""
    score_cutoff = pd.Timestamp(data_horizon).floor("D")
    usage = inputs.usage
    active = usage[(usage.sessions_created.fillna(0) + usage.exports_generated.fillna(0)) > 0]
    if active.empty:
        return score_cutoff, []
    earliest = active.usage_date.min().floor("D") + min_history_days * DAY
    last = score_cutoff - horizon_days * DAY
    cutoffs = [last - k * step_days * DAY for k in range(max_cutoffs)]
    return score_cutoff, sorted(c for c in cutoffs if c >= earliest)


def band(p: float) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "unscored"
    return "high" if p >= HIGH_RISK else "medium" if p >= MEDIUM_RISK else "low"


def score_accounts(model: ChurnModel | None, features: pd.DataFrame) -> pd.DataFrame:
    """churn_probability, risk_band and top_drivers (JSON text) per account."""
    out = pd.DataFrame({"account_id": features.account_id.to_numpy()})
    if model is None or features.empty:
        out["churn_probability"] = np.nan
        out["risk_band"] = "unscored"
        out["top_drivers"] = None
        return out
    p = model.predict(features)
    contrib = model.contributions(features)
    values = features[FEATURES].to_numpy(float)
    drivers = []
    for i in range(len(features)):
        order = np.argsort(-contrib[i])[:TOP_DRIVERS]
        drivers.append(json.dumps([
            {"feature": FEATURES[j], "value": round(float(values[i, j]), 4),
             "contribution": round(float(contrib[i, j]), 4)}
            for j in order if contrib[i, j] > 0
        ]))
    out["churn_probability"] = p
    out["risk_band"] = [band(float(v)) for v in p]
    out["top_drivers"] = drivers
    return out


def run_churn_model(inputs: ChurnInputs, data_horizon: pd.Timestamp, *, horizon_days: int = 30,
                    step_days: int = 7, max_cutoffs: int = 26, min_history_days: int = 14,
                    validation_fraction: float = 0.25) -> ChurnRun:
    """Snapshots, time-split evaluation, refit on all labelled cutoffs, score at the horizon."""
    inputs = inputs.normalised()
    data_horizon = pd.Timestamp(data_horizon)
    if data_horizon.tzinfo is None:
        data_horizon = data_horizon.tz_localize("UTC")
    score_cutoff, cutoffs = choose_cutoffs(inputs, data_horizon, horizon_days=horizon_days,
                                           step_days=step_days, max_cutoffs=max_cutoffs,
                                           min_history_days=min_history_days)
    snapshots = build_snapshots(inputs, cutoffs, data_horizon, horizon_days)
    labelled = snapshots[snapshots.label.notna()]
    used = sorted(labelled.cutoff.unique())
    n_valid = max(1, round(validation_fraction * len(used))) if len(used) >= 2 else 0
    valid_cutoffs, train_cutoffs = used[len(used) - n_valid:], used[:len(used) - n_valid]
    train = labelled[labelled.cutoff.isin(train_cutoffs)]
    valid = labelled[labelled.cutoff.isin(valid_cutoffs)]

    evaluation = {
        "model_name": MODEL_NAME, "cutoff": score_cutoff, "horizon_days": horizon_days,
        "train_start": min(train_cutoffs) if train_cutoffs else None,
        "train_end": max(train_cutoffs) if train_cutoffs else None,
        "validation_start": min(valid_cutoffs) if valid_cutoffs else None,
        "validation_end": max(valid_cutoffs) if valid_cutoffs else None,
        "n_train": len(train), "n_validation": len(valid),
        "n_train_positive": int(train.label.sum()), "n_validation_positive": int(valid.label.sum()),
        "base_rate": float(train.label.mean()) if len(train) else None,
        "validation_base_rate": float(valid.label.mean()) if len(valid) else None,
        "roc_auc": None, "pr_auc": None, "brier": None, "brier_skill": None,
        "calibration": [], "calibration_method": None, "features": list(FEATURES), "reason": None,
    }
    if len(used) < 2:
        evaluation["reason"] = (f"{len(used)} labelled cutoff(s): a time split needs at least 2 "
                                f"(cutoff + {horizon_days} days must be within the data)")
    else:
        model, reason = fit_time_ordered(train)
        if model is None:
            evaluation["reason"] = reason
        else:
            evaluation["calibration_method"] = model.calibration_method
            y, p = valid.label.to_numpy(int), model.predict(valid)
            metrics, reason = evaluate(y, p)
            evaluation.update(metrics)
            evaluation["reason"] = reason

    final, final_reason = fit_time_ordered(labelled) if len(used) else (None, "no labelled cutoff")
    current = build_features(inputs, score_cutoff)
    scores = score_accounts(final, current)
    scores.insert(1, "cutoff", score_cutoff)
    scores["model_name"] = MODEL_NAME
    if final is None and evaluation["reason"] is None:
        evaluation["reason"] = f"scoring model not fitted: {final_reason}"
    return ChurnRun(evaluation, scores, snapshots)
