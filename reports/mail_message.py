"""Building the e-mails: a report message (HTML + text body, the recipient's files attached) and an
operator alert, both from jinja2 templates in reports/email_templates/.

The Message-ID is derived from what the message is (report, period, recipient / incident), not
from when it was built, so a message re-sent after a crash carries the same id as the first copy.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from functools import cache
from pathlib import Path

import jinja2

TEMPLATES_DIR = Path(__file__).parent / "email_templates"
_MIME = {
    ".pdf": ("application", "pdf"),
    ".csv": ("text", "csv"),
    ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ".txt": ("text", "plain"),
}


@dataclass(frozen=True)
class Attachment:
    path: Path
    content: bytes

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def size(self) -> str:
        n = len(self.content)
        return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} bytes"


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def _render(name: str, **values: object) -> str:
    return _environment().get_template(name).render(**values)


def message_id(sender: str, *parts: str) -> str:
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else "usage-analytics.invalid"
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]
    return f"<{digest}@{domain}>"


def report_message(*, sender: str, recipient: str, report_id: str, title: str, period: str, period_label: str,
                   account_name: str | None, attachments: list[Attachment]) -> EmailMessage:
    """One recipient's report e-mail; the TXT summaries attached (one per account) are also quoted in the body."""
    summary = "\n\n".join(a.content.decode("utf-8", "replace").strip() for a in attachments
                          if a.path.suffix == ".txt") or None
    values = {"report_id": report_id, "title": title, "period": period, "period_label": period_label,
              "account_name": account_name, "attachments": attachments, "summary": summary}
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = f"{title} — {period_label}" + (f" — {account_name}" if account_name else "")
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id(sender, "report", report_id, period, recipient)
    msg["X-Report-Id"] = report_id
    msg["X-Report-Period"] = period
    msg.set_content(_render("report.txt.j2", **values))
    msg.add_alternative(_render("report.html.j2", **values), subtype="html")
    for attachment in attachments:
        maintype, subtype = _MIME.get(attachment.path.suffix.lower()) or tuple(
            (mimetypes.guess_type(attachment.name)[0] or "application/octet-stream").split("/", 1))
        msg.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.name)
    return msg


def alert_message(*, sender: str, recipient: str, incident_key: str, subject: str, body: str) -> EmailMessage:
    values = {"incident_key": incident_key, "subject": subject, "body": body}
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = f"[usage-analytics] {subject}"
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id(sender, "alert", incident_key)
    msg["X-Incident-Key"] = incident_key
    msg.set_content(_render("alert.txt.j2", **values))
    msg.add_alternative(_render("alert.html.j2", **values), subtype="html")
    return msg
