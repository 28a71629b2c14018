-- Report delivery and operator alerts (reports/delivery.py, reports/alerts.py; docs/delivery.md).
--
-- delivery_ledger: one row per (report, period, recipient). A delivery claims its row
-- ('sending') before talking to the mail server and records the outcome after, so a retry, a
-- re-run or a backfill never sends a delivered message again.
--   sending  claimed by `claim_token` at `claimed_at`; a claim older than the lease is from a
--            crashed run and is taken over (the message is re-sent with the same Message-ID)
--   sent     accepted by the SMTP server (`smtp_code`/`smtp_reply` hold its answer)
--   outbox   written as an .eml file (SMTP_HOST unset)
--   failed   temporary errors outlasted the attempts; a later run tries again
--   refused  the server refused it for good (5xx); a later run tries again once the cause is fixed
CREATE TABLE reports.delivery_ledger (
    report_id     text NOT NULL,
    period        text NOT NULL,
    recipient     text NOT NULL,
    account_id    bigint,                       -- NULL for internal reports
    status        text NOT NULL CHECK (status IN ('sending', 'sent', 'outbox', 'failed', 'refused')),
    message_id    text NOT NULL,                -- stable per (report, period, recipient)
    claim_token   text NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,   -- SMTP transactions tried, over all runs
    attachments   text[] NOT NULL DEFAULT '{}',
    smtp_code     integer,
    smtp_reply    text,
    last_error    text,
    outbox_path   text,
    run_id        text,
    claimed_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    PRIMARY KEY (report_id, period, recipient)
);
CREATE INDEX ON reports.delivery_ledger (account_id);

-- alert_incidents: one operator e-mail per incident key (a run lineage, a failed check on given
-- data, a stale asset), however many times the incident is reported.
CREATE TABLE reports.alert_incidents (
    incident_key   text PRIMARY KEY,
    subject        text NOT NULL,
    recipient      text,                         -- NULL: OPERATOR_EMAIL was unset
    status         text NOT NULL CHECK (status IN ('sending', 'sent', 'outbox', 'failed', 'unaddressed')),
    claim_token    text NOT NULL,
    occurrences    integer NOT NULL DEFAULT 1,
    smtp_code      integer,
    smtp_reply     text,
    last_error     text,
    outbox_path    text,
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    claimed_at     timestamptz NOT NULL DEFAULT now(),
    sent_at        timestamptz
);
