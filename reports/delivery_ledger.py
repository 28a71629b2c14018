"""The delivery ledger (reports.delivery_ledger): exactly-once e-mail per (report, period, recipient).

Protocol, one row per key:
1. `claim` atomically inserts the row as 'sending' with a fresh token, or takes over a row that
   is 'failed'/'refused'/'unsendable' (a re-run after the cause was fixed) or 'sending' held by a
   run that crashed between claiming and recording: at once when the caller names that run as
   dead (Dagster knows it failed, was canceled, finished or does not exist), else once the claim
   is older than the lease. Anything else — 'sent', 'outbox', or a live claim of another run — is
   not claimed, so nothing is sent twice.
2. The message is handed to the server (or the outbox).
3. `finish` records the outcome, but only while the caller still holds the claim token.

The one window that can duplicate a message is between the server's 250 reply to the message and
the commit of step 3; a take-over then re-sends it with the same Message-ID, which mail clients use
to recognise the copy. We prefer that to losing a report (docs/delivery.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

import psycopg

DONE = ("sent", "outbox")
RETRIED = ("failed", "refused", "unsendable")


@dataclass(frozen=True)
class LedgerKey:
    report_id: str
    period: str
    recipient: str


@dataclass(frozen=True)
class Claim:
    token: str
    attempts_before: int
    took_over: str | None  # previous status when an earlier row was taken over


def claiming_runs(conn: psycopg.Connection, report_id: str, period: str) -> set[str]:
    """Runs holding a 'sending' claim in this report period (rows claimed without a run are left out)."""
    rows = conn.execute(
        "SELECT DISTINCT run_id FROM reports.delivery_ledger"
        " WHERE report_id = %s AND period = %s AND status = 'sending' AND run_id IS NOT NULL",
        (report_id, period),
    ).fetchall()
    return {row[0] for row in rows}


def claim(conn: psycopg.Connection, key: LedgerKey, *, account_id: int | None, message_id: str,
          attachments: list[str], run_id: str | None, lease_seconds: int,
          dead_runs: Collection[str] = ()) -> Claim | None:
    """Claim the key for sending; None when it is already delivered or another live run holds it.

    A 'sending' row of a run in `dead_runs` is taken over at once; any other only after the lease.
    """
    token = uuid.uuid4().hex
    row = conn.execute(
        """
        WITH previous AS (
            SELECT status FROM reports.delivery_ledger
            WHERE report_id = %(report_id)s AND period = %(period)s AND recipient = %(recipient)s
        )
        INSERT INTO reports.delivery_ledger AS l
            (report_id, period, recipient, account_id, status, message_id, claim_token, attachments,
             run_id, claimed_at)
        VALUES (%(report_id)s, %(period)s, %(recipient)s, %(account_id)s, 'sending', %(message_id)s,
                %(token)s, %(attachments)s, %(run_id)s, now())
        ON CONFLICT (report_id, period, recipient) DO UPDATE
            SET status = 'sending', claim_token = EXCLUDED.claim_token, attachments = EXCLUDED.attachments,
                run_id = EXCLUDED.run_id, claimed_at = now(), finished_at = NULL
            WHERE l.status IN ('failed', 'refused', 'unsendable')
               OR (l.status = 'sending' AND (l.claimed_at < now() - make_interval(secs => %(lease)s)
                                             OR l.run_id = ANY(%(dead_runs)s)))
        RETURNING l.attempts, (SELECT status FROM previous)
        """,
        {"report_id": key.report_id, "period": key.period, "recipient": key.recipient,
         "account_id": account_id, "message_id": message_id, "token": token, "attachments": attachments,
         "run_id": run_id, "lease": lease_seconds, "dead_runs": list(dead_runs)},
    ).fetchone()
    if row is None:
        return None
    return Claim(token=token, attempts_before=row[0], took_over=row[1])


def current_status(conn: psycopg.Connection, key: LedgerKey) -> str | None:
    row = conn.execute(
        "SELECT status FROM reports.delivery_ledger WHERE report_id = %s AND period = %s AND recipient = %s",
        (key.report_id, key.period, key.recipient),
    ).fetchone()
    return row[0] if row else None


def finish(conn: psycopg.Connection, key: LedgerKey, claim_: Claim, *, status: str, attempts: int,
           code: int | None = None, reply: str | None = None, error: str | None = None,
           outbox_path: str | None = None) -> bool:
    """Record the outcome of a claimed send; False if the claim was lost to a take-over meanwhile."""
    if status not in (*DONE, *RETRIED):
        raise ValueError(f"not a final delivery status: {status!r}")
    updated = conn.execute(
        """
        UPDATE reports.delivery_ledger
        SET status = %s, attempts = attempts + %s, smtp_code = %s, smtp_reply = %s, last_error = %s,
            outbox_path = %s, finished_at = now()
        WHERE report_id = %s AND period = %s AND recipient = %s AND claim_token = %s
        """,
        (status, attempts, code, reply, error, outbox_path, key.report_id, key.period, key.recipient,
         claim_.token),
    ).rowcount
    return updated == 1
