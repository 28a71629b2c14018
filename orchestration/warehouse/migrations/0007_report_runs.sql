-- Report execution history and the files each run produced (issue 5; written by the report
-- assets in orchestration/defs/reports.py through reports/runs.py). report_artifacts holds the
-- current files of a report period: a re-run replaces its rows in one transaction.

CREATE TABLE reports.report_runs (
    run_key          bigserial PRIMARY KEY,
    dagster_run_id   text,
    report_id        text NOT NULL,
    period           text NOT NULL,             -- partition key: the period's first day
    period_start     date NOT NULL,
    period_end       date NOT NULL,             -- exclusive
    status           text NOT NULL CHECK (status IN ('succeeded', 'failed')),
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz NOT NULL,
    documents        integer NOT NULL DEFAULT 0, -- accounts (or 1 for an internal report)
    files            integer NOT NULL DEFAULT 0,
    input_row_counts jsonb NOT NULL DEFAULT '{}'::jsonb,
    data_hash        text,
    render_seconds   jsonb NOT NULL DEFAULT '{}'::jsonb,  -- per format
    pdf_pages        integer,                   -- total over the period's PDFs
    error            text
);
CREATE INDEX report_runs_report_period ON reports.report_runs (report_id, period);

CREATE TABLE reports.report_artifacts (
    report_id   text NOT NULL,
    period      text NOT NULL,
    account_id  bigint,                          -- NULL for internal reports
    format      text NOT NULL CHECK (format IN ('pdf', 'csv', 'xlsx', 'txt')),
    path        text NOT NULL,
    bytes       bigint NOT NULL,
    sha256      text NOT NULL,
    data_hash   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- One file per report, period, account and format; internal reports (account NULL) included.
CREATE UNIQUE INDEX report_artifacts_unique
    ON reports.report_artifacts (report_id, period, coalesce(account_id, -1), format);
