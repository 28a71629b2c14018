-- Churn risk (issue 4, part 1): one evaluation row per training run (replaced when the same
-- model is retrained for the same cutoff) and one score row per paying account and cutoff.
-- Written by orchestration/defs/ml_churn.py; see orchestration/ml/churn_risk.py for the method.

CREATE TABLE IF NOT EXISTS ml.model_evaluations (
    model_name             text NOT NULL,
    cutoff                 timestamptz NOT NULL,      -- the scoring cutoff (data horizon, midnight UTC)
    trained_at             timestamptz NOT NULL,
    horizon_days           integer NOT NULL,          -- label: churn within this many days after a cutoff
    train_start            timestamptz,               -- first / last training cutoff
    train_end              timestamptz,
    validation_start       timestamptz,               -- first / last validation cutoff (later than training)
    validation_end         timestamptz,
    n_train                integer NOT NULL,          -- account snapshots
    n_validation           integer NOT NULL,
    n_train_positive       integer NOT NULL,
    n_validation_positive  integer NOT NULL,
    base_rate              double precision,          -- churn rate of the training snapshots
    validation_base_rate   double precision,
    roc_auc                double precision,          -- NULL when undefined (see reason)
    pr_auc                 double precision,
    brier                  double precision,
    brier_skill            double precision,          -- 1 - brier / (r (1 - r)), r = validation base rate
    calibration            jsonb NOT NULL,            -- [{bin, p_min, p_max, mean_predicted, observed_rate, count}]
    calibration_method     text,
    features               jsonb NOT NULL,
    reason                 text,                      -- why metrics are NULL, when they are
    PRIMARY KEY (model_name, cutoff)
);

CREATE TABLE IF NOT EXISTS ml.churn_risk_scores (
    account_id         bigint NOT NULL,
    cutoff             timestamptz NOT NULL,          -- features from data strictly before this instant
    scored_at          timestamptz NOT NULL,
    model_name         text NOT NULL,
    churn_probability  double precision,              -- P(subscription churn within horizon); NULL = unscored
    risk_band          text NOT NULL,                 -- high / medium / low / unscored
    top_drivers        jsonb,                         -- [{feature, value, contribution}] largest positive log-odds contributions
    PRIMARY KEY (cutoff, account_id)
);
CREATE INDEX IF NOT EXISTS churn_risk_scores_band ON ml.churn_risk_scores (cutoff, risk_band);
