-- Hourly snapshots of the source. Each table is partitioned by the hour of its event time
-- (the column named in the comment); a partition write deletes and re-inserts exactly that
-- hour window, so no load timestamps are stored here: re-running gives identical rows.
-- Personal data (owner_name, owner_email) exists only in raw.accounts and never reaches marts.

CREATE TABLE raw.plans (                       -- full snapshot, replaced on every extraction
    plan_id                     text PRIMARY KEY,
    plan_name                   text NOT NULL,
    tier                        integer NOT NULL,
    monthly_price               numeric(12, 2) NOT NULL,
    annual_price                numeric(12, 2) NOT NULL,
    limit_audio_minutes         integer,
    limit_sessions              integer,
    limit_storage_mb            integer,
    limit_exports               integer,
    overage_audio_minute_price  numeric(12, 4) NOT NULL,
    overage_session_price       numeric(12, 4) NOT NULL,
    overage_storage_mb_price    numeric(12, 4) NOT NULL,
    overage_export_price        numeric(12, 4) NOT NULL,
    trial_days                  integer NOT NULL,
    recorded_at                 timestamptz NOT NULL
);

CREATE TABLE raw.accounts (                    -- partitioned by signup_at
    account_id           bigint PRIMARY KEY,
    account_name         text NOT NULL,
    owner_name           text,
    owner_email          text,
    user_type            text NOT NULL,
    country              text NOT NULL,
    timezone             text NOT NULL,
    acquisition_channel  text NOT NULL,
    signup_at            timestamptz NOT NULL,
    recorded_at          timestamptz NOT NULL
);
CREATE INDEX ON raw.accounts (signup_at);

CREATE TABLE raw.subscriptions (               -- partitioned by updated_at: one row per version
    subscription_id  bigint NOT NULL,
    account_id       bigint NOT NULL,
    plan_id          text NOT NULL,
    billing_period   text NOT NULL,
    is_trial         boolean NOT NULL,
    started_at       timestamptz NOT NULL,
    ended_at         timestamptz,
    end_reason       text,
    status           text NOT NULL,
    updated_at       timestamptz NOT NULL,
    recorded_at      timestamptz NOT NULL,
    PRIMARY KEY (subscription_id, updated_at)
);
CREATE INDEX ON raw.subscriptions (updated_at);

CREATE TABLE raw.sessions (                    -- partitioned by started_at
    session_id            bigint NOT NULL,
    account_id            bigint NOT NULL,
    started_at            timestamptz NOT NULL,
    ended_at              timestamptz NOT NULL,
    audio_minutes         numeric(12, 3) NOT NULL,
    audio_file_size_mb    numeric(12, 3) NOT NULL,
    transcription_status  text NOT NULL,
    recorded_at           timestamptz NOT NULL
);
CREATE INDEX ON raw.sessions (started_at);
CREATE INDEX ON raw.sessions (ended_at);

CREATE TABLE raw.usage_events (                -- partitioned by occurred_at
    event_id       bigint NOT NULL,
    account_id     bigint NOT NULL,
    occurred_at    timestamptz NOT NULL,
    event_type     text NOT NULL,
    export_format  text,
    quantity       integer NOT NULL,
    recorded_at    timestamptz NOT NULL
);
CREATE INDEX ON raw.usage_events (occurred_at);

-- Each account's state at the end of each hour: the storage meter reading taken at hour end and
-- the subscription active at that instant. Partitioned by hour_start.
CREATE TABLE raw.account_state_hourly (
    hour_start           timestamptz NOT NULL,
    account_id           bigint NOT NULL,
    storage_used_mb      numeric(14, 3) NOT NULL,
    plan_id              text,
    billing_period       text,
    subscription_status  text,
    recorded_at          timestamptz NOT NULL,
    PRIMARY KEY (hour_start, account_id)
);

CREATE TABLE raw.invoices (                    -- partitioned by issued_at
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
    status            text NOT NULL,
    recorded_at       timestamptz NOT NULL
);
CREATE INDEX ON raw.invoices (issued_at);

-- What each extraction of each hour saw: the source clock it read up to (for late-data detection)
-- and how many rows it loaded and quarantined.
CREATE TABLE raw.snapshot_log (
    table_name        text NOT NULL,
    partition_hour    timestamptz NOT NULL,
    source_cutoff     timestamptz NOT NULL,
    rows_loaded       integer NOT NULL,
    rows_quarantined  integer NOT NULL,
    extracted_at      timestamptz NOT NULL,
    PRIMARY KEY (table_name, partition_hour)
);

-- Bad source rows, kept verbatim with the first rule they broke and the hour they were filed
-- under (their event hour, or the hour they were recorded when the event time is unusable).
-- CREATE TABLE AS copies no NOT NULL constraints: a quarantined row may miss any column.
CREATE TABLE quarantine.sessions AS SELECT * FROM raw.sessions WITH NO DATA;
CREATE TABLE quarantine.usage_events AS SELECT * FROM raw.usage_events WITH NO DATA;
CREATE TABLE quarantine.account_state_hourly AS SELECT * FROM raw.account_state_hourly WITH NO DATA;
CREATE TABLE quarantine.subscriptions AS SELECT * FROM raw.subscriptions WITH NO DATA;
CREATE TABLE quarantine.invoices AS SELECT * FROM raw.invoices WITH NO DATA;
CREATE TABLE quarantine.accounts AS SELECT * FROM raw.accounts WITH NO DATA;
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sessions', 'usage_events', 'account_state_hourly', 'subscriptions',
                             'invoices', 'accounts'] LOOP
        EXECUTE format('ALTER TABLE quarantine.%I ADD COLUMN reason text NOT NULL, '
                       'ADD COLUMN partition_hour timestamptz NOT NULL', t);
        EXECUTE format('CREATE INDEX ON quarantine.%I (partition_hour)', t);
    END LOOP;
END $$;
