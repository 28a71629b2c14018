"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, a free port, with scriptable misbehaviour.

`LocalSmtpServer` records every accepted message and can drop the next N connections (or drop a
connection after the message data arrived, without keeping it), answer the
next DATA commands with given replies (e.g. "451 ..." then normal), refuse all or chosen recipients
with a 5xx, or announce a SIZE limit — the failure modes delivery must survive or report.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and its key) made with the openssl CLI; also its own CA file."""
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
                    "-out", str(cert), "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


@dataclass
class Script:
    drop_connections: int = 0
    drop_in_data: int = 0  # close the connection after the message data arrived, before replying
    data_replies: list[str] = field(default_factory=list)
    rcpt_reply: str | None = None
    refused_recipients: dict[str, str] = field(default_factory=dict)  # address -> its 5xx RCPT reply
    connections: int = 0


class _Handler:
    def __init__(self, script: Script, lock: threading.Lock):
        self.script = script
        self.lock = lock
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.script.rcpt_reply:
            return self.script.rcpt_reply
        if address in self.script.refused_recipients:
            return self.script.refused_recipients[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.script.drop_in_data > 0:
                self.script.drop_in_data -= 1
                server.transport.abort()
                return "421 4.4.2 connection dropped"  # never reaches the client
            if self.script.data_replies:
                return self.script.data_replies.pop(0)
            message = message_from_bytes(envelope.content, policy=policy.default)
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 2.0.0 queued as test"


class _DroppingSMTP(SMTP):
    """Closes the connection before greeting while the script says so (a flaky network)."""

    def __init__(self, handler: _Handler, **kwargs):
        super().__init__(handler, **kwargs)
        self._script = handler.script

    def connection_made(self, transport):
        self._script.connections += 1
        if self._script.drop_connections > 0:
            self._script.drop_connections -= 1
            transport.abort()
            return
        super().connection_made(transport)

    def connection_lost(self, exc):
        if self.transport is None:  # dropped before the session began
            return
        super().connection_lost(exc)


class _Controller(Controller):
    def factory(self):
        return _DroppingSMTP(self.handler, **self.SMTP_kwargs)


class LocalSmtpServer:
    def __init__(self, credentials: tuple[str, str] | None = None, tls_cert: tuple[Path, Path] | None = None,
                 data_size_limit: int | None = None):
        self.port = free_port()
        self.script = Script()
        self._lock = threading.Lock()
        self.handler = _Handler(self.script, self._lock)
        kwargs = {} if data_size_limit is None else {"data_size_limit": data_size_limit}  # announced as SIZE
        if credentials:
            def authenticate(server, session, envelope, mechanism, auth_data):
                ok = (auth_data.login.decode(), auth_data.password.decode()) == credentials
                return AuthResult(success=ok, handled=False)
            kwargs |= {"authenticator": authenticate, "auth_require_tls": tls_cert is not None}
        if tls_cert:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls_cert)
            kwargs |= {"tls_context": context, "require_starttls": True}
        self.controller = _Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    def __enter__(self) -> LocalSmtpServer:
        self.controller.start()
        self.script.connections = 0  # the controller's own readiness probe is not a client
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[tuple[list[str], EmailMessage]]:
        with self._lock:
            return list(self.handler.messages)

    def env(self) -> dict[str, str]:
        """Environment that points delivery at this server, with fast retries."""
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.port), "SMTP_STARTTLS": "false",
                "SMTP_TIMEOUT_SECONDS": "5", "DELIVERY_MAX_ATTEMPTS": "4", "DELIVERY_BACKOFF_SECONDS": "0.05",
                "REPORT_FROM": "reports@analytics.test"}
