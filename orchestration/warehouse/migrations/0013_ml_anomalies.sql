-- The anomaly evaluation scores a simple baseline next to the detector (issue 14): one set of rows per
-- detector. 'seasonal_robust' is orchestration/ml/anomalies.py's detect_anomalies (the rows so far);
-- 'rolling_robust_z' a rolling robust z-score without season (rolling_robust_zscore), on the same trials.
ALTER TABLE ml.anomaly_evaluations ADD COLUMN detector text NOT NULL DEFAULT 'seasonal_robust';
ALTER TABLE ml.anomaly_evaluations DROP CONSTRAINT anomaly_evaluations_pkey;
ALTER TABLE ml.anomaly_evaluations ADD PRIMARY KEY (metric, detector, event_kind);

-- Platform-wide hourly usage anomalies (orchestration/defs/ml_hourly_anomalies.py), last 28 days, refreshed
-- every hour; score in sigma units (docs/metrics.md, "Anomaly scores"), season_length the period used.
CREATE TABLE ml.hourly_usage_anomalies (
    metric         text NOT NULL,
    hour_start     timestamptz NOT NULL,
    value          double precision,
    expected       double precision,
    score          double precision,
    is_anomaly     boolean NOT NULL,
    season_length  integer NOT NULL,              -- 1: no season found
    PRIMARY KEY (metric, hour_start)
);
