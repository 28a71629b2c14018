-- Per-account usage forecasts and the stored anomaly-detector evaluation (issue 4, parts 3 and 5).
-- Written by orchestration/defs/ml_account_forecasts.py and orchestration/defs/ml_forecasts.py;
-- each asset replaces its whole table in one transaction (latest forecast origin only).

-- Daily usage forecast per account and metric, with 80% and 95% prediction intervals.
CREATE TABLE ml.account_usage_forecasts (
    account_id       bigint NOT NULL,
    metric           text NOT NULL,              -- a fct_usage_daily column, e.g. audio_minutes_processed
    usage_date       date NOT NULL,              -- the forecast day
    yhat             double precision NOT NULL,
    yhat_lower       double precision NOT NULL,  -- 95%
    yhat_upper       double precision NOT NULL,
    yhat_lower_80    double precision NOT NULL,
    yhat_upper_80    double precision NOT NULL,
    model            text NOT NULL,
    forecast_origin  date NOT NULL,              -- the last observed day
    PRIMARY KEY (account_id, metric, usage_date)
);

-- Per-series rolling-origin backtest: seasonal naive and the family chosen for the series'
-- stratum (plan x metric, see ml.account_forecast_families); `chosen` marks the model used.
CREATE TABLE ml.account_forecast_backtests (
    account_id       bigint NOT NULL,
    metric           text NOT NULL,
    stratum          text NOT NULL,              -- current plan id, 'none' without a subscription
    model            text NOT NULL,
    mase             double precision,           -- NULL: not backtested (short or constant series)
    smape            double precision,
    coverage_80      double precision,
    coverage_95      double precision,
    folds            integer,
    horizon          integer,
    chosen           boolean NOT NULL,
    model_reason     text NOT NULL,              -- why the chosen model (same text on every row of the series)
    forecast_origin  date NOT NULL,
    PRIMARY KEY (account_id, metric, model)
);

-- Which model family each stratum backtests per series: full backtests of a seeded sample of
-- the stratum's series, summarised per family; `chosen` marks the family applied.
CREATE TABLE ml.account_forecast_families (
    stratum          text NOT NULL,
    metric           text NOT NULL,
    model            text NOT NULL,
    series_sampled   integer NOT NULL,
    median_mase      double precision,
    median_smape     double precision,
    wins             integer NOT NULL,           -- sampled series on which this family had the lowest MASE
    chosen           boolean NOT NULL,
    source           text NOT NULL,              -- stratum sample | pooled sample (small stratum) | none
    PRIMARY KEY (stratum, metric, model)
);

-- How well the anomaly detector finds anomalies injected into copies of the platform's own
-- daily usage series: event-level precision, recall and detection delay per metric and kind.
CREATE TABLE ml.anomaly_evaluations (
    metric             text NOT NULL,
    event_kind         text NOT NULL,            -- spike | drop | level_shift | all
    evaluated_through  date NOT NULL,            -- last day of the series the events were injected into
    series_days        integer NOT NULL,
    trials             integer NOT NULL,         -- injected copies (one event each)
    n_events           integer NOT NULL,
    n_detected         integer NOT NULL,
    n_detections       integer NOT NULL,         -- flagged runs (alerts)
    n_false_positives  integer NOT NULL,
    event_precision    double precision NOT NULL,  -- flagged runs touching an event / all flagged runs
    event_recall       double precision NOT NULL,  -- events detected / events injected
    mean_delay_days    double precision,         -- NULL when nothing was detected
    original_flags     integer NOT NULL,         -- days flagged on the untouched series (not counted)
    threshold          double precision NOT NULL,
    PRIMARY KEY (metric, event_kind)
);
