-- Operations (docs/operations.md): the erasure list the snapshots consult, what each erasure and
-- retention purge removed, and the outcome of bulk operations, account by account.
CREATE SCHEMA IF NOT EXISTS ops;

-- Accounts erased on request. The hourly snapshot never loads their rows again (they are counted
-- under reason 'erased' in the run's metadata, not kept in quarantine), although the source may
-- still hold them. Only the pseudonymous account id is kept, as the tombstone that enforces this.
CREATE TABLE ops.erased_accounts (
    account_id    bigint PRIMARY KEY,
    first_erased_at timestamptz NOT NULL,
    requested_by  text
);

-- One row per erasure run (re-running an erasure adds a row that removed nothing).
CREATE TABLE ops.erasure_runs (
    erasure_run_id  bigserial PRIMARY KEY,
    account_id      bigint NOT NULL,
    ran_at          timestamptz NOT NULL,
    rows_removed    bigint NOT NULL,
    files_removed   integer NOT NULL,
    removed         jsonb NOT NULL      -- {"raw.sessions": 12, "reports.delivery_ledger (tombstoned)": 1, ...}
);
CREATE INDEX ON ops.erasure_runs (account_id);

-- One row per retention purge: the policy, the boundary actually used and rows removed per table.
CREATE TABLE ops.retention_runs (
    retention_run_id  bigserial PRIMARY KEY,
    ran_at            timestamptz NOT NULL,
    retention_days    integer NOT NULL,
    cutoff            timestamptz NOT NULL,   -- rows older than this are due
    days_purged       integer NOT NULL,       -- due days whose daily rollup exists
    days_held_back    integer NOT NULL,       -- due days not rolled up yet: kept
    rows_removed      bigint NOT NULL,
    removed           jsonb NOT NULL
);

-- Bulk operations over many accounts: the run and each account's outcome.
CREATE TABLE ops.bulk_runs (
    bulk_run_id     bigserial PRIMARY KEY,
    operation       text NOT NULL,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    accounts_total  integer NOT NULL,
    succeeded       integer NOT NULL DEFAULT 0,
    failed          integer NOT NULL DEFAULT 0,
    status          text NOT NULL CHECK (status IN ('running', 'succeeded', 'partial', 'failed'))
);

CREATE TABLE ops.bulk_run_accounts (
    bulk_run_id  bigint NOT NULL REFERENCES ops.bulk_runs ON DELETE CASCADE,
    position     integer NOT NULL,       -- order in the input list
    account      text NOT NULL,          -- as given, so unparseable input is recorded too
    succeeded    boolean NOT NULL,
    error        text,
    detail       jsonb,
    finished_at  timestamptz NOT NULL,
    PRIMARY KEY (bulk_run_id, position)
);
