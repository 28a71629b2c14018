"""E-mail a rendered report period to its recipients, exactly once each.

`deliver_report` reads what rendering recorded in `reports.report_artifacts`, checks every file
against its recorded sha256 (a file changed or missing since rendering is an error naming it),
resolves recipients — the account owner (raw.accounts.owner_email, looked up now and never
written into an artifact) for per-account reports, the catalogue's expanded list for internal
ones — and sends one message per recipient through the ledger (reports/delivery_ledger.py).

Every recipient is attempted even if one fails. A fault of one recipient alone (an address that
is not valid, a message over the size limit, a 5xx for that recipient; reports/undeliverable.py)
is recorded in the ledger, mailed to the operator once, and does not fail the delivery: a re-run
would meet it again. Faults a retry may fix or that hit every recipient (4xx and network errors
outlasting the attempts, a session refused, a live claim of another run) are raised together at
the end as DeliveryError.
"""

from __future__ import annotations

import email.policy
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from orchestration.settings import MailSettings, get_mail_settings, get_settings
from orchestration.warehouse.connection import connect
from reports import delivery_ledger as ledger
from reports.alerts import AlertDeliveryError
from reports.catalogue import ReportSpec, expand_recipients, load_catalogue
from reports.delivery_warnings import DeliveryWarnings
from reports.mail_message import Attachment, InvalidRecipient, has_control_characters, message_id, report_message
from reports.mail_transport import (
    MailRefused,
    MessageTooLarge,
    OutboxTransport,
    SmtpTransport,
    TemporaryMailError,
    open_transport,
)
from reports.periods import period_for
from reports.undeliverable import Undelivered, alert_delivery

log = logging.getLogger(__name__)


@dataclass
class DeliverySummary:
    report_id: str
    period: str
    recipients: int = 0
    sent: int = 0
    already_sent: int = 0
    outbox: int = 0
    failed: int = 0  # temporary errors outlasted the attempts, or an unexpected error
    refused: int = 0  # the server refused the session (MAIL FROM, login, TLS): every message
    in_progress: int = 0  # claimed by another, still live run
    no_recipient: int = 0  # per-account artifacts whose account has no owner e-mail
    undeliverable: list[Undelivered] = field(default_factory=list)  # recorded and alerted, not raised
    problems: list[str] = field(default_factory=list)
    warnings: DeliveryWarnings | None = None  # served, but the server faltered or a name was sanitised

    def __post_init__(self) -> None:
        if self.warnings is None:
            self.warnings = DeliveryWarnings(self.report_id, self.period)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.refused or self.in_progress or self.problems)

    def counts(self) -> dict[str, int]:
        return {"sent": self.sent, "already_sent": self.already_sent, "outbox": self.outbox,
                "undeliverable": len(self.undeliverable), "failed": self.failed, "refused": self.refused,
                "in_progress": self.in_progress, "no_recipient": self.no_recipient}


class DeliveryError(RuntimeError):
    """Some recipients did not get their message; `summary` says who and why."""

    def __init__(self, summary: DeliverySummary):
        lines = "\n".join(f"  - {p}" for p in summary.problems)
        super().__init__(f"delivery of {summary.report_id} {summary.period} incomplete "
                         f"({summary.counts()}):\n{lines}")
        self.summary = summary


@dataclass(frozen=True)
class Envelope:
    recipient: str
    account_id: int | None
    account_name: str | None
    attachments: list[Attachment]


def _artifact_path(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else get_settings().artifacts_dir / p


def load_attachments(conn: psycopg.Connection, report_id: str, period: str) -> dict[int | None, list[Attachment]]:
    """The period's files per account (None: internal), verified against their recorded sha256."""
    rows = conn.execute(
        """SELECT account_id, format, path, sha256 FROM reports.report_artifacts
           WHERE report_id = %s AND period::text = %s ORDER BY account_id NULLS FIRST, format""",
        (report_id, period),
    ).fetchall()
    if not rows:
        raise LookupError(f"no artifacts recorded for report {report_id!r} period {period!r}: "
                          f"materialize reports/{report_id} for that period first")
    files: dict[int | None, list[Attachment]] = {}
    for account_id, _fmt, path, sha256 in rows:
        file = _artifact_path(path)
        if not file.is_file():
            raise FileNotFoundError(f"artifact {file} of report {report_id!r} period {period!r} is missing")
        content = file.read_bytes()
        if hashlib.sha256(content).hexdigest() != sha256:
            raise ValueError(f"artifact {file} changed since it was rendered (sha256 differs from "
                             "reports.report_artifacts); re-materialize the report before delivering it")
        files.setdefault(account_id, []).append(Attachment(file, content))
    return files


def envelopes(conn: psycopg.Connection, spec: ReportSpec,
              files: dict[int | None, list[Attachment]]) -> tuple[list[Envelope], list[int]]:
    """Who gets which files; also the accounts that have no owner e-mail to send to."""
    if spec.audience == "internal":
        attachments = [a for account_files in files.values() for a in account_files]
        return [Envelope(r, None, None, attachments) for r in expand_recipients(spec.recipients)], []
    account_ids = sorted(a for a in files if a is not None)
    owners = {row[0]: (row[1], row[2]) for row in conn.execute(
        "SELECT account_id, account_name, owner_email FROM raw.accounts WHERE account_id = ANY(%s)",
        (account_ids,)).fetchall()}
    # The ledger holds one message per (report, period, recipient): an owner of several accounts
    # gets one message carrying every account's files, not one per account (the second of which
    # the ledger would take for "already sent"). The ledger row names the first account.
    by_recipient: dict[str, list[int]] = {}
    missing = []
    for account_id in account_ids:
        email = owners.get(account_id, (None, None))[1]
        if email and email.strip():  # a present but invalid address fails its recipient, loudly
            by_recipient.setdefault(email.strip(), []).append(account_id)
        else:
            missing.append(account_id)
    result = [
        Envelope(recipient, accounts[0], ", ".join(str(owners[a][0] or a) for a in accounts),
                 [attachment for a in accounts for attachment in files[a]])
        for recipient, accounts in by_recipient.items()
    ]
    return result, missing


def _outbox_name(report_id: str, period: str, envelope: Envelope) -> str:
    who = f"account-{envelope.account_id}" if envelope.account_id is not None else "internal"
    digest = hashlib.sha256(envelope.recipient.encode()).hexdigest()[:12]
    return f"{report_id}_{period.replace('-', '')}_{who}_{digest}.eml"


def deliver_report(url: str, report_id: str, period: str, *, run_id: str | None = None,
                   run_is_dead: Callable[[str], bool] | None = None, settings: MailSettings | None = None,
                   sleep: Callable[[float], None] = time.sleep) -> DeliverySummary:
    """Send the period's artifacts to every recipient once; raises DeliveryError if any did not go out.

    `run_is_dead` answers whether the run that holds a 'sending' claim is known to be over (see
    delivery_ledger.claim); those claims are taken over at once instead of after the lease.
    """
    spec = load_catalogue().get(report_id)
    if spec is None:
        raise KeyError(f"unknown report {report_id!r}; see reports/catalogue.yaml")
    settings = settings or get_mail_settings()
    label = period_for(spec.schedule, period).label
    summary = DeliverySummary(report_id, period)
    with connect(url, autocommit=True) as conn:
        files = load_attachments(conn, report_id, period)
        targets, missing = envelopes(conn, spec, files)
        summary.recipients, summary.no_recipient = len(targets), len(missing)
        if spec.audience == "internal" and not targets:
            log.warning("%s %s: no internal recipients configured (%s expands to nothing); nothing to send",
                        report_id, period, ", ".join(spec.recipients))
        if missing:
            log.warning("%s %s: %d accounts have no owner e-mail (account ids %s)", report_id, period,
                        len(missing), missing[:20])
        dead_runs = {r for r in ledger.claiming_runs(conn, report_id, period)
                     if r != run_id and run_is_dead is not None and run_is_dead(r)}
        with open_transport(settings, sleep) as transport:
            for envelope in targets:
                _deliver_one(conn, transport, settings, spec, period, label, envelope, run_id, dead_runs, summary)
    # One operator e-mail per delivery; warnings only when the run succeeds (else its failure alert tells).
    warnings = summary.warnings.incidents() if summary.ok else []
    try:
        outcome = alert_delivery(url, report_id, period, summary.undeliverable, warnings, settings, sleep)
        if outcome is not None:
            log.warning("%s %s: operator alert %s: %d recipients not served %s, warnings %s", report_id, period,
                        outcome, len(summary.undeliverable), [u.who for u in summary.undeliverable[:20]],
                        [w.summary for w in warnings])
    except AlertDeliveryError as exc:
        summary.problems.append(f"the operator alert about this delivery was not sent: {exc}")
    log.info("delivery of %s %s: %s", report_id, period, summary.counts())
    if not summary.ok:
        raise DeliveryError(summary)
    return summary


def _deliver_one(conn: psycopg.Connection, transport: SmtpTransport | OutboxTransport, settings: MailSettings,
                 spec: ReportSpec, period: str, label: str, envelope: Envelope, run_id: str | None,
                 dead_runs: set[str], summary: DeliverySummary) -> None:
    key = ledger.LedgerKey(spec.id, period, envelope.recipient)
    who = f"account {envelope.account_id}" if envelope.account_id is not None else "an internal recipient"
    claim = ledger.claim(conn, key, account_id=envelope.account_id,
                         message_id=message_id(settings.sender, "report", spec.id, period, envelope.recipient),
                         attachments=[a.name for a in envelope.attachments], run_id=run_id,
                         lease_seconds=settings.claim_lease_seconds, dead_runs=dead_runs)
    if claim is None:
        if ledger.current_status(conn, key) in ledger.DONE:
            summary.already_sent += 1
        else:
            summary.in_progress += 1
            summary.problems.append(f"{who}: another run is delivering this message right now")
        return
    if envelope.account_name and has_control_characters(envelope.account_name):
        summary.warnings.name_sanitised(envelope.account_id, envelope.account_name)
    if claim.took_over == "sending":
        log.warning("%s %s for %s: taking over a delivery whose run stopped before recording it; "
                    "re-sending with the same Message-ID", spec.id, period, who)

    def undeliverable(status: str, cause: str, reason: str, **fields: object) -> None:
        ledger.finish(conn, key, claim, status=status, error=reason, **fields)
        summary.undeliverable.append(Undelivered(envelope.account_id, envelope.recipient, cause, reason))

    try:  # a message that cannot be built for this recipient must not stop the others
        message = report_message(sender=settings.sender, recipient=envelope.recipient, report_id=spec.id,
                                 title=spec.title, period=period, period_label=label,
                                 account_name=envelope.account_name, attachments=envelope.attachments)
        size = len(message.as_bytes(policy=email.policy.SMTP))
        if size > settings.max_message_bytes:
            raise MessageTooLarge(size, settings.max_message_bytes, "DELIVERY_MAX_MESSAGE_BYTES")
    except InvalidRecipient as exc:
        return undeliverable("unsendable", "invalid-address", f"owner e-mail: {exc}", attempts=0)
    except MessageTooLarge as exc:
        return undeliverable("unsendable", "too-large", str(exc), attempts=0)
    except Exception as exc:
        log.exception("%s %s for %s: the message could not be built", spec.id, period, who)
        return undeliverable("unsendable", "unbuildable", f"message not built: {type(exc).__name__}: {exc}",
                             attempts=0)
    try:
        if isinstance(transport, OutboxTransport):
            handed = transport.send(message, envelope.recipient, _outbox_name(spec.id, period, envelope))
        else:
            handed = transport.send(message, envelope.recipient)
    except MessageTooLarge as exc:
        undeliverable("unsendable", "too-large", str(exc), attempts=0)
    except MailRefused as exc:
        if exc.per_recipient:
            undeliverable("refused", f"refused-{exc.code}", f"refused by the server: {exc.code} {exc.reply}",
                          attempts=exc.attempts, code=exc.code, reply=exc.reply)
        else:
            ledger.finish(conn, key, claim, status="refused", attempts=exc.attempts, code=exc.code,
                          reply=exc.reply, error=str(exc))
            summary.refused += 1
            summary.problems.append(f"{who}: refused by the server: {exc}")
    except TemporaryMailError as exc:
        ledger.finish(conn, key, claim, status="failed", attempts=exc.attempts, code=exc.code, reply=exc.reply,
                      error=str(exc))
        summary.failed += 1
        summary.problems.append(f"{who}: gave up after {exc.attempts} attempts: {exc}")
    except Exception as exc:  # unexpected: recorded for a re-run, raised at the end, the others still served
        log.exception("%s %s for %s: sending failed unexpectedly", spec.id, period, who)
        ledger.finish(conn, key, claim, status="failed", attempts=0, error=f"{type(exc).__name__}: {exc}")
        summary.failed += 1
        summary.problems.append(f"{who}: {type(exc).__name__}: {exc}")
    else:
        # The server has the message (its 250 arrived): only this write stands between it and 'sent'.
        # Nothing may turn it into a retried status; if the write itself fails, the row stays
        # 'sending' and the next run re-sends it (the one duplicate window, docs/delivery.md).
        if handed.outbox_path is not None:
            ledger.finish(conn, key, claim, status="outbox", attempts=1, outbox_path=str(handed.outbox_path))
            summary.outbox += 1
        else:
            summary.warnings.retried(handed.retried_after)
            if not ledger.finish(conn, key, claim, status="sent", attempts=handed.attempts, code=handed.code,
                                 reply=handed.reply):
                log.warning("%s %s for %s: sent, but another run took this delivery over meanwhile (its lease "
                            "ran out, or Dagster reported this run over); it may send a copy", spec.id, period, who)
            summary.sent += 1
