"""What went wrong in a delivery that still served everyone, and the one operator e-mail about it.

Two faults leave no failed recipient behind, yet an operator left alone for months must hear of
them, once:
- **the mail server faltered**: 4xx replies, dropped connections or an outage that the retries
  outlasted. Every message went out, but a longer outage would not have; the e-mail says which
  errors were met and how many messages needed retries. One incident per (report, period): a
  re-run that meets the server faltering again only counts it.
- **a name held control characters** (CR/LF, NUL, ...): an account's name that would have broken
  or injected a header was sanitised (reports/mail_message.header_text) and the message sent.
  The name is bad source data all the same. One incident per account and name (its hash): every
  later report to that account only counts it, a new bad name is a new incident.
Both go in the delivery's one operator e-mail (reports/undeliverable.alert_delivery), sent after the
deliveries, so a server that was down for a while is back. Names and addresses are never quoted:
accounts are named by id.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

from reports.alerts import Incident


@dataclass
class DeliveryWarnings:
    report_id: str
    period: str
    retried_messages: int = 0
    retry_errors: Counter[str] = field(default_factory=Counter)
    sanitised: dict[tuple[int | None, str], None] = field(default_factory=dict)  # (account, name hash), in order

    def retried(self, errors: tuple[str, ...]) -> None:
        """A message that went through after `errors` (its earlier attempts' temporary errors)."""
        if errors:
            self.retried_messages += 1
            self.retry_errors.update(errors)

    def name_sanitised(self, account_id: int | None, name: str) -> None:
        self.sanitised[(account_id, hashlib.sha256(name.encode()).hexdigest()[:12])] = None

    def incidents(self) -> list[Incident]:
        found = []
        if self.retried_messages:
            errors = "; ".join(f"{error} ×{n}" for error, n in self.retry_errors.most_common(5))
            found.append(Incident(
                key=f"delivery-retried:{self.report_id}:{self.period}",
                summary=f"{self.report_id} {self.period}: the mail server faltered; {self.retried_messages} "
                        f"message(s) went out only after retries ({errors})"))
        for account_id, name_hash in self.sanitised:
            who = f"account {account_id}" if account_id is not None else "an internal recipient"
            found.append(Incident(
                key=f"header-sanitised:{account_id}:{name_hash}",
                summary=f"{self.report_id} {self.period}, {who}: its name holds control characters (CR/LF or "
                        "similar); they were replaced by spaces in the e-mail headers. Fix the name in the source"))
        return found

