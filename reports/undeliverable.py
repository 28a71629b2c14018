"""Recipients a delivery could not serve, and the one operator e-mail about them.

A recipient is undeliverable when the fault is theirs alone and retrying now would not help: the
owner e-mail is not a valid address, the message is over the size limit, or the server refused
that recipient or that message with a 5xx. Delivery records each in the ledger and carries on
with everyone else; the operator hears about each (report, period, recipient, cause) once, in one
e-mail per delivery that lists the new ones (reports.alerts.send_incidents_alert). A re-run that
meets the same cause again only counts it; a different cause for the same recipient is a new
incident. Alerts name accounts by id, never by address (the address is personal data). The same
e-mail carries the delivery's warnings (reports/delivery_warnings.py).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from orchestration.settings import MailSettings
from reports.alerts import AlertOutcome, Incident, send_incidents_alert


@dataclass(frozen=True)
class Undelivered:
    account_id: int | None
    recipient: str
    cause: str  # short and stable across re-runs: invalid-address, too-large, unbuildable, refused-<code>
    reason: str  # for people (ledger last_error, alert line); never quotes the address

    @property
    def who(self) -> str:
        if self.account_id is not None:
            return f"account {self.account_id}"
        return f"internal recipient #{hashlib.sha256(self.recipient.encode()).hexdigest()[:8]}"

    def incident(self, report_id: str, period: str) -> Incident:
        recipient = hashlib.sha256(self.recipient.encode()).hexdigest()[:16]
        return Incident(key=f"delivery-undeliverable:{report_id}:{period}:{recipient}:{self.cause}",
                        summary=f"{report_id} {period}, {self.who}: {self.reason}")


def alert_delivery(url: str, report_id: str, period: str, undelivered: list[Undelivered], warnings: list[Incident],
                   settings: MailSettings, sleep: Callable[[float], None] = time.sleep) -> AlertOutcome | None:
    """The delivery's one operator e-mail: the recipients not served and the warnings (a faltering mail
    server, sanitised names; reports/delivery_warnings.py), each listed only if not mailed before.
    None when there is nothing to tell; raises AlertDeliveryError."""
    if not undelivered and not warnings:
        return None
    if undelivered:
        subject = f"{report_id} {period}: recipients could not be served"
        preamble = [
            f"Delivery of {report_id} for {period} could not serve some recipients; every other recipient "
            "got their message.",
            "Each is recorded in reports.delivery_ledger (status unsendable or refused; last_error says why).",
            "Fix the owner e-mail or the data, then re-run the delivery: only recipients not yet served are "
            "sent to. You get one e-mail per recipient and cause, however often the delivery is re-run.",
        ]
    else:
        subject = f"{report_id} {period}: delivered, with warnings"
        preamble = [
            f"Delivery of {report_id} for {period} served every recipient; nothing needs re-sending.",
        ]
    if warnings:
        preamble.append("Warnings (messages that did go out) name the mail server's errors the retries outlasted "
                        "and account names sanitised in headers: check the server's log, fix the names in the "
                        "source. One e-mail per report period, and per account and name.")
    outcome, _ = send_incidents_alert(url, [u.incident(report_id, period) for u in undelivered] + warnings,
                                      subject, "\n".join(preamble), settings=settings, sleep=sleep)
    return outcome
