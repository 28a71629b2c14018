"""Building the e-mails: a report message (HTML + text body, the recipient's files attached) and an
operator alert, both from jinja2 templates in reports/email_templates/.

The Message-ID is derived from what the message is (report, period, recipient / incident), not
from when it was built, so a message re-sent after a crash carries the same id as the first copy.

Header values come from data (account names, owner e-mails, incident keys), so they are cleaned
here, not trusted: control characters become spaces (a CR/LF can neither break the header nor
start a new one), and a recipient must parse as an RFC 5322 address (email.headerregistry) or the
message is not built for it (`InvalidRecipient`, a per-recipient failure for the caller to record).
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass
from email.errors import MessageError
from email.headerregistry import Address
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


# C0 controls (CR, LF, TAB, NUL, ...), DEL, C1 controls (NEL among them), Unicode line/paragraph separators
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class InvalidRecipient(ValueError):
    """No message can be built for this address; the reason never quotes the address itself."""


def has_control_characters(value: str) -> bool:
    """Whether `value` holds a character header_text replaces (a CR/LF in a name is bad source data)."""
    return _CONTROL.search(value) is not None


def header_text(value: str) -> str:
    """`value` fit for a header: control characters become spaces, runs of spaces collapse."""
    return " ".join(_CONTROL.sub(" ", value).split())


def recipient_address(value: str) -> Address:
    """The address to mail, or InvalidRecipient saying what is wrong with it.

    Surrounding whitespace is forgiven; anything a mail server would misread is not: a control
    character inside (a CR/LF would end the SMTP command), text that is not one RFC 5322 addr-spec,
    or non-ASCII characters (they need SMTPUTF8, which delivery does not negotiate).
    """
    candidate = value.strip()
    if _CONTROL.search(candidate):
        raise InvalidRecipient("the address contains a control character (CR, LF or similar)")
    if not candidate.isascii():
        raise InvalidRecipient("the address has non-ASCII characters (SMTPUTF8 is not used)")
    try:
        address = Address(addr_spec=candidate)
    except (ValueError, IndexError, MessageError):  # their messages may quote the address: not repeated
        raise InvalidRecipient("not a valid e-mail address (RFC 5322 addr-spec)") from None
    if not address.username or not address.domain:
        raise InvalidRecipient("not a valid e-mail address (no local part or no domain)")
    return address


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
    subject = f"{title} — {period_label}" + (f" — {account_name}" if account_name else "")
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient_address(recipient)
    msg["Subject"] = header_text(subject)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id(sender, "report", report_id, period, recipient)
    msg["X-Report-Id"] = header_text(report_id)
    msg["X-Report-Period"] = header_text(period)
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
    msg["To"] = recipient_address(recipient)
    msg["Subject"] = header_text(f"[usage-analytics] {subject}")
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id(sender, "alert", incident_key)
    msg["X-Incident-Key"] = header_text(incident_key)
    msg.set_content(_render("alert.txt.j2", **values))
    msg.add_alternative(_render("alert.html.j2", **values), subtype="html")
    return msg
