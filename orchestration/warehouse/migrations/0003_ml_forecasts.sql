-- Outputs of the platform-level models (orchestration/defs/ml_forecasts.py). Each asset
-- replaces its rows for its series in one transaction.

-- Forecasts with 80% and 95% prediction intervals, one row per series and future period.
CREATE TABLE ml.forecasts (
    series_id        text NOT NULL,          -- e.g. signups_daily, mrr_monthly, usage_daily:audio_minutes_processed
    period_start     timestamptz NOT NULL,
    yhat             double precision NOT NULL,
    yhat_lower       double precision NOT NULL,  -- 95%
    yhat_upper       double precision NOT NULL,
    yhat_lower_80    double precision NOT NULL,
    yhat_upper_80    double precision NOT NULL,
    model            text NOT NULL,
    model_reason     text NOT NULL,
    forecast_origin  timestamptz NOT NULL,    -- the last observed period
    PRIMARY KEY (series_id, period_start)
);

-- Rolling-origin backtest of every candidate model per series: how the chosen model did on
-- data it did not see, next to the seasonal-naive baseline.
CREATE TABLE ml.forecast_backtests (
    series_id        text NOT NULL,
    model            text NOT NULL,
    mase             double precision,
    smape            double precision,
    coverage_80      double precision,
    coverage_95      double precision,
    folds            integer,
    horizon          integer,
    chosen           boolean NOT NULL,
    forecast_origin  timestamptz NOT NULL,
    PRIMARY KEY (series_id, model)
);

-- Anomaly scores of platform-wide daily usage per metric.
CREATE TABLE ml.usage_anomalies (
    metric       text NOT NULL,
    usage_date   date NOT NULL,
    value        double precision,
    expected     double precision,
    score        double precision,
    is_anomaly   boolean NOT NULL,
    PRIMARY KEY (metric, usage_date)
);

-- BG/NBD probability that an account is still active ("alive"), from its active days.
CREATE TABLE ml.activity_alive (
    account_id         bigint PRIMARY KEY,
    cutoff_date        date NOT NULL,
    frequency          integer NOT NULL,   -- repeat active days
    recency_days       integer NOT NULL,   -- first to last active day
    age_days           integer NOT NULL,   -- first active day to the cutoff (T)
    probability_alive  double precision NOT NULL
);

CREATE TABLE ml.bgnbd_fits (
    cutoff_date      date PRIMARY KEY,
    r                double precision NOT NULL,
    alpha            double precision NOT NULL,
    a                double precision NOT NULL,
    b                double precision NOT NULL,
    log_likelihood   double precision NOT NULL,
    converged        boolean NOT NULL,
    accounts         integer NOT NULL
);
