"""Handing a message to the mail server, or to the outbox folder when no server is configured.

One SMTP connection is reused for a batch (a thousand per-account summaries should not mean a
thousand TLS handshakes) and reopened after any error. Replies are classified the way SMTP
defines them: 4xx and network errors are temporary (retry with exponential backoff, a bounded
number of times), 5xx is a permanent refusal (no retry; the caller records it and fails loudly).
A 5xx to RCPT or DATA refuses this recipient's message only (`MailRefused.per_recipient`); one to
the session (MAIL FROM, AUTH) or an untrusted certificate refuses every message. A message larger
than the server's SIZE extension allows is not offered at all (`MessageTooLarge`).
"""

from __future__ import annotations

import email.policy
import logging
import os
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from orchestration.settings import MailSettings, get_settings

log = logging.getLogger(__name__)


class TemporaryMailError(Exception):
    """A network error or 4xx reply: the same message may succeed later."""

    def __init__(self, message: str, code: int | None = None, reply: str | None = None):
        super().__init__(message)
        self.code = code
        self.reply = reply
        self.attempts = 0


class MailRefused(Exception):
    """A 5xx reply, or a TLS/STARTTLS setup the server cannot satisfy: retrying would not help."""

    def __init__(self, code: int | None, reply: str, *, per_recipient: bool = False):
        super().__init__(f"SMTP server refused the message: {code} {reply}" if code else
                         f"SMTP connection refused for good: {reply}")
        self.code = code
        self.reply = reply
        self.per_recipient = per_recipient  # refused for this recipient/message, not for the whole session
        self.attempts = 0


class MessageTooLarge(Exception):
    """The message exceeds the size limit (the server's SIZE extension or DELIVERY_MAX_MESSAGE_BYTES)."""

    def __init__(self, size: int, limit: int, source: str):
        super().__init__(f"the message is {size:,} bytes; {source} accepts at most {limit:,}")
        self.size = size
        self.limit = limit


@dataclass(frozen=True)
class Handed:
    """How a message left: accepted by a server (code/reply) or written to an outbox file."""

    attempts: int
    code: int | None = None
    reply: str | None = None
    outbox_path: Path | None = None
    retried_after: tuple[str, ...] = ()  # the temporary errors of the attempts before the one that went through


def _reply_text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def classify(exc: Exception) -> TemporaryMailError | MailRefused:
    """Map an smtplib/socket error onto temporary (retry) or refused (fail loudly)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, raw = next(iter(exc.recipients.values()))
        reply = _reply_text(raw)
        return (MailRefused(code, reply, per_recipient=True) if code >= 500
                else TemporaryMailError(f"{code} {reply}", code, reply))
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = _reply_text(exc.smtp_error)
        if exc.smtp_code >= 500:
            return MailRefused(exc.smtp_code, reply, per_recipient=isinstance(exc, smtplib.SMTPDataError))
        return TemporaryMailError(f"{exc.smtp_code} {reply}", exc.smtp_code, reply)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return MailRefused(None, f"the server's TLS certificate is not trusted ({exc.verify_message}); "
                                 "set SMTP_CA_FILE for a private CA")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return MailRefused(None, f"{exc} (SMTP_STARTTLS=true but the server offers no STARTTLS?)")
    return TemporaryMailError(f"{type(exc).__name__}: {exc}")


class SmtpTransport:
    """A lazily opened, reused SMTP session (STARTTLS and login when configured)."""

    def __init__(self, settings: MailSettings, sleep: Callable[[float], None] = time.sleep):
        if settings.host is None:
            raise ValueError("SmtpTransport needs SMTP_HOST; use OutboxTransport without one")
        self.settings = settings
        self._sleep = sleep
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        try:
            smtp.ehlo()
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=s.ca_file))
                smtp.ehlo()
            if s.user:
                smtp.login(s.user, s.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _server_size_limit(self) -> int | None:
        """The SIZE the server announced after EHLO (RFC 1870); None or 0 means no stated limit."""
        size = self._smtp.esmtp_features.get("size", "").strip() if self._smtp else ""
        return int(size) if size.isdigit() and int(size) > 0 else None

    def _send_once(self, message: EmailMessage, recipient: str) -> tuple[int, str]:
        if self._smtp is None:
            self._smtp = self._open()
        data = message.as_bytes(policy=email.policy.SMTP)  # CRLF line ends
        limit = self._server_size_limit()
        if limit is not None and len(data) > limit:
            raise MessageTooLarge(len(data), limit, "the server (SIZE)")
        try:
            self._smtp.mail(self.settings.sender, [f"SIZE={len(data)}"] if limit is not None else [])
            code, raw = self._smtp.rcpt(recipient)
            if code not in (250, 251):
                self._smtp.rset()
                raise smtplib.SMTPRecipientsRefused({recipient: (code, raw)})
            code, raw = self._smtp.data(data)
            if code != 250:
                raise smtplib.SMTPDataError(code, raw)
        except smtplib.SMTPResponseException:
            self._reset_quietly()
            raise
        return code, _reply_text(raw)

    def _reset_quietly(self) -> None:
        """After a refused transaction keep the connection if it still answers, else drop it."""
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def send(self, message: EmailMessage, recipient: str) -> Handed:
        """Send to one recipient, retrying temporary failures with exponential backoff.

        Raises MailRefused on a 5xx reply, or the last TemporaryMailError once the attempts are
        used up; either carries `attempts`. MessageTooLarge when the server's SIZE is exceeded.
        """
        attempts = 0
        errors: list[str] = []
        while True:
            attempts += 1
            try:
                code, reply = self._send_once(message, recipient)
                return Handed(attempts=attempts, code=code, reply=reply, retried_after=tuple(errors))
            except MessageTooLarge:
                raise
            except (smtplib.SMTPException, OSError) as exc:
                if not isinstance(exc, smtplib.SMTPResponseException):
                    self._drop()  # a network error leaves the session in an unknown state
                error = classify(exc)
                error.attempts = attempts
                if isinstance(error, MailRefused) or attempts >= self.settings.max_attempts:
                    raise error from exc
                errors.append(str(error))
                delay = self.settings.backoff_seconds * 2 ** (attempts - 1)
                log.warning("SMTP attempt %d/%d for report message %s failed (%s); retrying in %.2fs",
                            attempts, self.settings.max_attempts, message["Message-ID"], error, delay)
                self._sleep(delay)
            except BaseException:
                self._drop()  # an unexpected error may leave a transaction half-open on this session
                raise

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class OutboxTransport:
    """No SMTP_HOST: each message becomes `<outbox>/<name>.eml`, written atomically (rename)."""

    def __init__(self, outbox: Path):
        self.outbox = outbox

    def send(self, message: EmailMessage, recipient: str, file_name: str) -> Handed:
        self.outbox.mkdir(parents=True, exist_ok=True)
        target = self.outbox / file_name
        partial = target.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(message.as_bytes())
        os.replace(partial, target)
        return Handed(attempts=1, outbox_path=target)

    def close(self) -> None:
        pass

    def __enter__(self) -> OutboxTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_transport(settings: MailSettings,
                   sleep: Callable[[float], None] = time.sleep) -> SmtpTransport | OutboxTransport:
    """SMTP when SMTP_HOST is set, else .eml files in ARTIFACTS_DIR/outbox/."""
    if settings.host is None:
        return OutboxTransport(get_settings().artifacts_dir / "outbox")
    return SmtpTransport(settings, sleep=sleep)
