"""Named operations over many accounts: progress every N accounts, one failure never stops a batch.

An operation is a function of (warehouse url, account id) returning a small JSON-able detail
dict. Each account runs on its own (its own connection and transaction inside the operation), so
an error — bad input, a database error — is recorded against that account and the batch moves
on. The run and every account's outcome are stored in ops.bulk_runs / ops.bulk_run_accounts.

Operations:
- erase: erase each account everywhere (orchestration/operations/erasure.py).
- usage_audit: check that each account's daily usage mart equals its raw rows (sessions, audio
  minutes, API calls) over the days raw still holds; an account whose totals differ fails,
  naming the metric and both figures.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from orchestration.operations.erasure import erase_account, parse_account_id
from orchestration.warehouse.connection import connect

log = logging.getLogger(__name__)

Operation = Callable[[str, int], dict[str, Any]]


def _erase(url: str, account_id: int) -> dict[str, Any]:
    report = erase_account(url, account_id, requested_by="bulk erase")
    return {"rows_removed": report.rows_removed, "files_removed": report.files_removed,
            "removed": report.removed}


# Days before the newest retention cutoff are only in the marts (raw was purged): not audited.
AUDIT_SQL = """
    WITH bounds AS (
        SELECT greatest(min(usage_date), (SELECT max(cutoff)::date FROM ops.retention_runs)) AS first_day,
               max(usage_date) AS last_day
        FROM marts.fct_usage_daily WHERE account_id = %(a)s
    )
    SELECT (SELECT coalesce(sum(sessions_created), 0) FROM marts.fct_usage_daily d
              WHERE d.account_id = %(a)s AND d.usage_date BETWEEN b.first_day AND b.last_day),
           (SELECT coalesce(sum(audio_minutes_processed), 0) FROM marts.fct_usage_daily d
              WHERE d.account_id = %(a)s AND d.usage_date BETWEEN b.first_day AND b.last_day),
           (SELECT coalesce(sum(api_calls), 0) FROM marts.fct_usage_daily d
              WHERE d.account_id = %(a)s AND d.usage_date BETWEEN b.first_day AND b.last_day),
           (SELECT count(*) FROM raw.sessions s WHERE s.account_id = %(a)s
              AND s.started_at::date BETWEEN b.first_day AND b.last_day),
           (SELECT coalesce(sum(audio_minutes), 0) FROM raw.sessions s WHERE s.account_id = %(a)s
              AND s.started_at::date BETWEEN b.first_day AND b.last_day),
           (SELECT coalesce(sum(quantity), 0) FROM raw.usage_events e WHERE e.account_id = %(a)s
              AND e.event_type = 'api_call' AND e.occurred_at::date BETWEEN b.first_day AND b.last_day)
    FROM bounds b
"""


def _usage_audit(url: str, account_id: int) -> dict[str, Any]:
    with connect(url) as conn:
        row = conn.execute(AUDIT_SQL, {"a": account_id}).fetchone()
    names = ("sessions", "audio_minutes", "api_calls")
    mart, raw = dict(zip(names, row[:3])), dict(zip(names, row[3:]))
    differing = [n for n in names if mart[n] != raw[n]]
    if differing:
        raise ValueError("mart differs from raw for " + ", ".join(
            f"{n} (mart {mart[n]}, raw {raw[n]})" for n in differing))
    return {n: float(mart[n]) for n in names}


OPERATIONS: dict[str, Operation] = {"erase": _erase, "usage_audit": _usage_audit}


@dataclass
class BulkSummary:
    bulk_run_id: int
    operation: str
    total: int
    succeeded: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # account as given -> error

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def status(self) -> str:
        if not self.failures:
            return "succeeded"
        return "partial" if self.succeeded else "failed"


def run_bulk(
    url: str,
    operation: str,
    accounts: Iterable[object],
    progress_every: int = 100,
    progress: Callable[[int, int, BulkSummary], None] | None = None,
) -> BulkSummary:
    """Run `operation` for each account; log progress every `progress_every` accounts.

    `progress(done, total, summary)` is called at the same points (the CLI draws its bar there).
    """
    if operation not in OPERATIONS:
        raise ValueError(f"unknown bulk operation {operation!r}; known: {', '.join(sorted(OPERATIONS))}")
    if progress_every < 1:
        raise ValueError(f"progress interval must be at least 1, got {progress_every}")
    accounts = [str(a).strip() for a in accounts]
    with connect(url) as conn:
        run_id = conn.execute(
            "INSERT INTO ops.bulk_runs (operation, started_at, accounts_total, status) "
            "VALUES (%s, now(), %s, 'running') RETURNING bulk_run_id", (operation, len(accounts)),
        ).fetchone()[0]
        conn.commit()
    summary = BulkSummary(run_id, operation, len(accounts))
    with connect(url, autocommit=True) as log_conn:
        for position, given in enumerate(accounts, start=1):
            detail, error = None, None
            try:
                detail = OPERATIONS[operation](url, parse_account_id(given))
                summary.succeeded += 1
            except Exception as exc:  # isolation: one account's failure is recorded, never raised
                error = f"{type(exc).__name__}: {exc}"
                summary.failures[given] = error
                log.warning("bulk %s: account %s failed: %s", operation, given, error)
            log_conn.execute(
                "INSERT INTO ops.bulk_run_accounts (bulk_run_id, position, account, succeeded, error, detail, "
                "finished_at) VALUES (%s, %s, %s, %s, %s, %s, now())",
                (run_id, position, given, error is None, error, json.dumps(detail) if detail else None),
            )
            if position % progress_every == 0 or position == len(accounts):
                log.info("bulk %s: %d/%d accounts, %d failed", operation, position, len(accounts),
                         summary.failed)
                if progress:
                    progress(position, len(accounts), summary)
        log_conn.execute(
            "UPDATE ops.bulk_runs SET finished_at = now(), succeeded = %s, failed = %s, status = %s "
            "WHERE bulk_run_id = %s", (summary.succeeded, summary.failed, summary.status, run_id),
        )
    return summary
