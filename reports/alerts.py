"""Operator alerts: one e-mail to OPERATOR_EMAIL per incident, however often the incident recurs.

An incident is whatever its key says it is — a run and its retries (`run-failure:<job>:<root run>`),
a failed check on given data, a stale asset — so callers choose the key and this module makes
sure only the first report of a key sends mail; later reports only count occurrences in
`reports.alert_incidents`. Mail goes the same way as reports: SMTP when SMTP_HOST is set, else an
.eml file in ARTIFACTS_DIR/outbox/. Other helpers (freshness, retention) import
`send_operator_alert` from here. `send_incidents_alert` mails several incidents found together
(recipients a delivery could not serve) as one e-mail listing those not mailed before, so a
thousand refused addresses are one e-mail, not a thousand, and each is still mailed only once.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from orchestration.settings import MailSettings, get_mail_settings
from orchestration.warehouse.connection import connect
from reports.mail_message import InvalidRecipient, alert_message
from reports.mail_transport import MailRefused, OutboxTransport, TemporaryMailError, open_transport

log = logging.getLogger(__name__)

AlertOutcome = Literal["sent", "outbox", "already_alerted", "unaddressed"]
MAX_LISTED = 50  # incidents named in one grouped e-mail; the rest are counted


@dataclass(frozen=True)
class Incident:
    key: str
    summary: str  # one line: what happened (the incident's subject in reports.alert_incidents)


class AlertDeliveryError(RuntimeError):
    """The alert could not be mailed; it is recorded as 'failed' and the next report of the incident retries."""


def _claim(conn, incident_key: str, subject: str, recipient: str | None, lease_seconds: int) -> tuple[bool, str]:
    token = uuid.uuid4().hex
    claimed, token_now = conn.execute(
        """
        INSERT INTO reports.alert_incidents AS a (incident_key, subject, recipient, status, claim_token)
        VALUES (%(key)s, %(subject)s, %(recipient)s, 'sending', %(token)s)
        ON CONFLICT (incident_key) DO UPDATE SET
            occurrences = a.occurrences + 1,
            last_seen_at = now(),
            recipient = CASE WHEN a.status IN ('failed', 'unaddressed') THEN EXCLUDED.recipient
                             ELSE a.recipient END,
            status = CASE WHEN a.status IN ('failed', 'unaddressed')
                               OR (a.status = 'sending' AND a.claimed_at < now() - make_interval(secs => %(lease)s))
                          THEN 'sending' ELSE a.status END,
            claim_token = CASE WHEN a.status IN ('failed', 'unaddressed')
                               OR (a.status = 'sending' AND a.claimed_at < now() - make_interval(secs => %(lease)s))
                          THEN EXCLUDED.claim_token ELSE a.claim_token END,
            claimed_at = CASE WHEN a.status IN ('failed', 'unaddressed')
                              OR (a.status = 'sending' AND a.claimed_at < now() - make_interval(secs => %(lease)s))
                         THEN now() ELSE a.claimed_at END
        RETURNING a.claim_token = %(token)s, a.claim_token
        """,
        {"key": incident_key, "subject": subject, "recipient": recipient, "token": token, "lease": lease_seconds},
    ).fetchone()
    return claimed, token_now


def _finish(conn, incident_key: str, token: str, status: str, **fields: object) -> None:
    conn.execute(
        """UPDATE reports.alert_incidents
           SET status = %(status)s, smtp_code = %(code)s, smtp_reply = %(reply)s, last_error = %(error)s,
               outbox_path = %(outbox_path)s,
               sent_at = CASE WHEN %(status)s IN ('sent', 'outbox') THEN now() END
           WHERE incident_key = %(key)s AND claim_token = %(token)s""",
        {"status": status, "key": incident_key, "token": token, "code": fields.get("code"),
         "reply": fields.get("reply"), "error": fields.get("error"), "outbox_path": fields.get("outbox_path")},
    )


def send_operator_alert(url: str, incident_key: str, subject: str, body: str, *,
                        settings: MailSettings | None = None,
                        sleep: Callable[[float], None] = time.sleep) -> AlertOutcome:
    """Mail the operator about `incident_key` unless this incident was already mailed.

    Returns what happened; raises AlertDeliveryError when the mail server could not take it after
    the usual retries (the incident is recorded 'failed', so the next report of it tries again).
    Without OPERATOR_EMAIL the incident is recorded as 'unaddressed' and logged, and mailed when it
    recurs after the address is set.
    """
    settings = settings or get_mail_settings()
    with connect(url, autocommit=True) as conn:
        claimed, token = _claim(conn, incident_key, subject, settings.operator_email, settings.claim_lease_seconds)
        if not claimed:
            return "already_alerted"
        return _mail(conn, [(incident_key, token)], incident_key, subject, body, settings, sleep)


def send_incidents_alert(url: str, incidents: list[Incident], subject: str, preamble: str, *,
                         settings: MailSettings | None = None,
                         sleep: Callable[[float], None] = time.sleep) -> tuple[AlertOutcome, list[Incident]]:
    """One e-mail about those of `incidents` not mailed before (each key counts as with send_operator_alert).

    Returns the outcome and the incidents the e-mail covered; "already_alerted" and none when every
    one was mailed before. Raises AlertDeliveryError like send_operator_alert.
    """
    settings = settings or get_mail_settings()
    with connect(url, autocommit=True) as conn:
        fresh: list[tuple[Incident, str]] = []
        for incident in incidents:
            claimed, token = _claim(conn, incident.key, incident.summary, settings.operator_email,
                                    settings.claim_lease_seconds)
            if claimed:
                fresh.append((incident, token))
        if not fresh:
            return "already_alerted", []
        lines = [f"- {incident.summary}" for incident, _ in fresh[:MAX_LISTED]]
        if len(fresh) > MAX_LISTED:
            lines.append(f"- … and {len(fresh) - MAX_LISTED} more (reports.alert_incidents has every one)")
        keys = sorted(incident.key for incident, _ in fresh)
        message_key = f"{keys[0]} (+{len(keys) - 1})" if len(keys) > 1 else keys[0]
        outcome = _mail(conn, [(incident.key, token) for incident, token in fresh], message_key, subject,
                        "\n".join([preamble, "", *lines]), settings, sleep)
        return outcome, [incident for incident, _ in fresh]


def _mail(conn, claims: list[tuple[str, str]], message_key: str, subject: str, body: str,
          settings: MailSettings, sleep: Callable[[float], None]) -> AlertOutcome:
    """Send one e-mail for the claimed incidents and record its outcome on each of them."""
    def finish(status: str, **fields: object) -> None:
        for incident_key, token in claims:
            _finish(conn, incident_key, token, status, **fields)

    if settings.operator_email is None:
        finish("unaddressed")
        log.warning("OPERATOR_EMAIL is unset; alert not mailed: %s (%s)", subject, message_key)
        return "unaddressed"
    try:
        message = alert_message(sender=settings.sender, recipient=settings.operator_email,
                                incident_key=message_key, subject=subject, body=body)
        with open_transport(settings, sleep) as transport:
            if isinstance(transport, OutboxTransport):
                name = f"alert_{hashlib.sha256(message_key.encode()).hexdigest()[:16]}.eml"
                handed = transport.send(message, settings.operator_email, name)
                finish("outbox", outbox_path=str(handed.outbox_path))
                return "outbox"
            handed = transport.send(message, settings.operator_email)
    except (MailRefused, TemporaryMailError) as exc:
        finish("failed", code=exc.code, reply=exc.reply, error=str(exc))
        raise AlertDeliveryError(f"operator alert {message_key!r} not sent: {exc}") from exc
    except InvalidRecipient as exc:
        finish("failed", error=f"OPERATOR_EMAIL: {exc}")
        raise AlertDeliveryError(f"operator alert {message_key!r} not sent: OPERATOR_EMAIL: {exc}") from exc
    finish("sent", code=handed.code, reply=handed.reply)
    return "sent"
