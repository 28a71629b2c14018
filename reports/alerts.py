"""Operator alerts: one e-mail to OPERATOR_EMAIL per incident, however often the incident recurs.

An incident is whatever its key says it is — a run and its retries (`run-failure:<job>:<root run>`),
a failed check on given data, a stale asset — so callers choose the key and this module makes
sure only the first report of a key sends mail; later reports only count occurrences in
`reports.alert_incidents`. Mail goes the same way as reports: SMTP when SMTP_HOST is set, else an
.eml file in ARTIFACTS_DIR/outbox/. Other helpers (freshness, retention) import
`send_operator_alert` from here.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Literal

from orchestration.settings import MailSettings, get_mail_settings
from orchestration.warehouse.connection import connect
from reports.delivery import open_transport
from reports.mail_message import alert_message
from reports.mail_transport import MailRefused, OutboxTransport, TemporaryMailError

log = logging.getLogger(__name__)

AlertOutcome = Literal["sent", "outbox", "already_alerted", "unaddressed"]


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
        if settings.operator_email is None:
            _finish(conn, incident_key, token, "unaddressed")
            log.warning("OPERATOR_EMAIL is unset; alert not mailed: %s (%s)", subject, incident_key)
            return "unaddressed"
        message = alert_message(sender=settings.sender, recipient=settings.operator_email,
                                incident_key=incident_key, subject=subject, body=body)
        try:
            with open_transport(settings, sleep) as transport:
                if isinstance(transport, OutboxTransport):
                    name = f"alert_{hashlib.sha256(incident_key.encode()).hexdigest()[:16]}.eml"
                    handed = transport.send(message, settings.operator_email, name)
                    _finish(conn, incident_key, token, "outbox", outbox_path=str(handed.outbox_path))
                    return "outbox"
                handed = transport.send(message, settings.operator_email)
        except (MailRefused, TemporaryMailError) as exc:
            _finish(conn, incident_key, token, "failed", code=exc.code, reply=exc.reply, error=str(exc))
            raise AlertDeliveryError(f"operator alert {incident_key!r} not sent: {exc}") from exc
        _finish(conn, incident_key, token, "sent", code=handed.code, reply=handed.reply)
        return "sent"
