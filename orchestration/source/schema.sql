-- The operational database of the simulated SaaS product (schema "app").
-- It plays the role of a customer's OLTP database: the platform only reads it.
-- Event-like tables (sessions, usage_events, storage_readings) carry no primary key on purpose:
-- real event logs receive at-least-once deliveries, so duplicates are possible and the
-- platform must quarantine them. Every table carries recorded_at, the time the row was written,
-- which may be hours after the time it describes (late data).
CREATE SCHEMA IF NOT EXISTS app;

CREATE TABLE IF NOT EXISTS app.plans (
    plan_id                     text PRIMARY KEY,
    plan_name                   text NOT NULL,
    tier                        integer NOT NULL,          -- 0 = free, higher = bigger
    monthly_price               numeric(12, 2) NOT NULL,   -- price per month on monthly billing
    annual_price                numeric(12, 2) NOT NULL,   -- price per year on annual billing
    limit_audio_minutes         integer,                   -- per month; NULL = unlimited
    limit_sessions              integer,                   -- per month
    limit_storage_mb            integer,                   -- at any time
    limit_exports               integer,                   -- per month
    overage_audio_minute_price  numeric(12, 4) NOT NULL,
    overage_session_price       numeric(12, 4) NOT NULL,
    overage_storage_mb_price    numeric(12, 4) NOT NULL,   -- per MB above the limit at month end
    overage_export_price        numeric(12, 4) NOT NULL,
    trial_days                  integer NOT NULL,
    recorded_at                 timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS app.accounts (
    account_id           bigint PRIMARY KEY,
    account_name         text NOT NULL,      -- workspace / company name
    owner_name           text NOT NULL,      -- personal data: never leaves raw
    owner_email          text NOT NULL,      -- personal data: never leaves raw
    user_type            text NOT NULL,      -- individual | team | enterprise | education
    country              text NOT NULL,      -- ISO 3166-1 alpha-2
    timezone             text NOT NULL,      -- IANA name
    acquisition_channel  text NOT NULL,      -- organic | paid_search | referral | social | partner | direct
    signup_at            timestamptz NOT NULL,
    recorded_at          timestamptz NOT NULL
);

-- One row per subscription period on one plan. A plan change ends the row (end_reason
-- upgrade/downgrade) and starts a new one; a cancellation ends it (voluntary or non_payment).
-- Rows are updated in place when they end, so updated_at moves: extraction follows updated_at.
CREATE TABLE IF NOT EXISTS app.subscriptions (
    subscription_id  bigint PRIMARY KEY,
    account_id       bigint NOT NULL,
    plan_id          text NOT NULL,
    billing_period   text NOT NULL,          -- monthly | annual
    is_trial         boolean NOT NULL,       -- a trial period is its own row, price 0
    started_at       timestamptz NOT NULL,
    ended_at         timestamptz,            -- NULL while active
    end_reason       text,                   -- upgrade | downgrade | voluntary | non_payment | trial_converted | trial_expired
    status           text NOT NULL,          -- trialing | active | past_due | canceled | ended
    updated_at       timestamptz NOT NULL,
    recorded_at      timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS app.sessions (
    session_id            bigint,
    account_id            bigint,
    started_at            timestamptz,
    ended_at              timestamptz,
    audio_minutes         numeric(12, 3),
    audio_file_size_mb    numeric(12, 3),
    transcription_status  text,              -- completed | failed
    recorded_at           timestamptz NOT NULL   -- written when the session ends
);

-- limit_reached: a free account reached a plan limit (sessions, audio minutes or exports this
-- month, or storage); usage of that kind stops until the month renews. Recorded at the start of
-- the session (or at the export) that reached it, quantity 1.
CREATE TABLE IF NOT EXISTS app.usage_events (
    event_id       bigint,
    account_id     bigint,
    occurred_at    timestamptz,
    event_type     text,                     -- api_call | export | share_link_created | share_link_accessed | limit_reached
    export_format  text,                     -- csv | pdf | xlsx | txt for exports, else NULL
    quantity       integer,
    recorded_at    timestamptz NOT NULL
);

-- The product's storage meter: one reading per account per hour (storage in use at measured_at).
CREATE TABLE IF NOT EXISTS app.storage_readings (
    account_id       bigint,
    measured_at      timestamptz,
    storage_used_mb  numeric(14, 3),
    recorded_at      timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS app.invoices (
    invoice_id        bigint PRIMARY KEY,
    account_id        bigint NOT NULL,
    subscription_id   bigint,
    period_start      timestamptz NOT NULL,
    period_end        timestamptz NOT NULL,
    issued_at         timestamptz NOT NULL,
    subscription_fee  numeric(12, 2) NOT NULL,
    overage_fee       numeric(12, 2) NOT NULL,
    total             numeric(12, 2) NOT NULL,
    currency          text NOT NULL,
    status            text NOT NULL,          -- paid | open | failed
    recorded_at       timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS sessions_started_at_idx ON app.sessions (started_at);
CREATE INDEX IF NOT EXISTS sessions_recorded_at_idx ON app.sessions (recorded_at);
CREATE INDEX IF NOT EXISTS usage_events_occurred_at_idx ON app.usage_events (occurred_at);
CREATE INDEX IF NOT EXISTS usage_events_recorded_at_idx ON app.usage_events (recorded_at);
-- A copy of an event in another hour is found by its id (the extraction's duplicate check).
CREATE INDEX IF NOT EXISTS sessions_session_id_idx ON app.sessions (session_id);
CREATE INDEX IF NOT EXISTS usage_events_event_id_idx ON app.usage_events (event_id);
CREATE INDEX IF NOT EXISTS storage_readings_measured_at_idx ON app.storage_readings (measured_at);
CREATE INDEX IF NOT EXISTS storage_readings_recorded_at_idx ON app.storage_readings (recorded_at);
CREATE INDEX IF NOT EXISTS subscriptions_updated_at_idx ON app.subscriptions (updated_at);
CREATE INDEX IF NOT EXISTS subscriptions_account_idx ON app.subscriptions (account_id, started_at);
CREATE INDEX IF NOT EXISTS accounts_signup_at_idx ON app.accounts (signup_at);
CREATE INDEX IF NOT EXISTS invoices_issued_at_idx ON app.invoices (issued_at);

-- Simulator bookkeeping (demo source only; not part of the product's data, never extracted).
-- simulation_state: parameters, horizon (rows recorded up to here are written) and the
-- simulator's per-account state, so hourly appends continue where the last run stopped.
CREATE TABLE IF NOT EXISTS app.simulation_state (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    seed           bigint NOT NULL,
    accounts       integer NOT NULL,
    history_start  timestamptz NOT NULL,
    history_end    timestamptz NOT NULL,
    horizon        timestamptz NOT NULL,
    state          bytea NOT NULL,            -- numpy .npz
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Rows already generated but recorded after the horizon (running sessions, late deliveries),
-- as binary COPY tuples grouped by the hour their recorded_at falls in: (recorded_hour - 1h, recorded_hour].
CREATE TABLE IF NOT EXISTS app.simulation_pending (
    table_name     text NOT NULL,
    recorded_hour  timestamptz NOT NULL,
    row_count      integer NOT NULL,
    tuples         bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS simulation_pending_hour_idx ON app.simulation_pending (recorded_hour);
