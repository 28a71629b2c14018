-- Limits & plans and account insights (issue 4, parts 4 and 6), written by the ml assets in
-- orchestration/defs/ml_accounts.py. Each table holds the latest as-of day only: an asset run
-- replaces all rows in one transaction, so a re-run on the same marts leaves identical rows.
-- Definitions: docs/metrics.md, "Limits, plans and insights".

CREATE TABLE ml.limit_projections (
    account_id               bigint PRIMARY KEY,
    as_of_date               date NOT NULL,     -- newest day of fct_usage_daily
    usage_month              date NOT NULL,     -- the (possibly incomplete) month of as_of_date
    days_observed            integer NOT NULL,  -- days of the month with a usage row (since signup)
    days_in_month            integer NOT NULL,
    plan_id                  text,              -- current subscription's plan; NULL without one
    billing_period           text,
    is_trial                 boolean,
    mtd_audio_minutes        numeric(14, 2),
    projected_audio_minutes  numeric(14, 2),
    limit_audio_minutes      integer,           -- NULL = unlimited or no plan
    audio_minutes_reach_date date,              -- NULL = not reached this month
    mtd_sessions             numeric(14, 2),
    projected_sessions       numeric(14, 2),
    limit_sessions           integer,
    sessions_reach_date      date,
    mtd_exports              numeric(14, 2),
    projected_exports        numeric(14, 2),
    limit_exports            integer,
    exports_reach_date       date,
    mtd_storage_mb           numeric(14, 2),    -- newest reading of the month
    projected_storage_mb     numeric(14, 2),    -- projected month-end level
    limit_storage_mb         integer,
    storage_mb_reach_date    date,
    projected_overage_cost   numeric(12, 2),
    projected_cost           numeric(12, 2),    -- current plan price + projected overage
    recommended_plan_id      text,
    recommended_plan_cost    numeric(12, 2),
    cost_saving              numeric(12, 2),    -- projected_cost - recommended_plan_cost when > 0
    efficiency_score         numeric(5, 1),     -- 0..100
    summary                  text
);

CREATE TABLE ml.account_insights (
    account_id               bigint PRIMARY KEY,
    as_of_date               date NOT NULL,
    report_month             date NOT NULL,     -- last complete month
    plan_id                  text,              -- plan at report_month's end
    peak_usage_date          date,
    peak_audio_minutes       numeric(14, 2),
    peak_text                text,
    max_utilization_pct      numeric(10, 2),
    downgrade_plan_id        text,
    downgrade_saving         numeric(12, 2),
    downgrade_text           text,
    audio_growth_pct         numeric(10, 1),
    upgrade_soon             boolean NOT NULL,
    upgrade_text             text,
    anomaly_days_30d         integer,
    latest_anomaly_date      date,
    anomaly_text             text,
    peer_group_size          integer,
    audio_minutes_percentile numeric(5, 1),
    peer_text                text
);
