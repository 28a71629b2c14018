"""A real SMTP server for the delivery benchmark: aiosmtpd on 127.0.0.1 that accepts and counts.

The benchmark must prove the messages arrived, not only that the client believed it sent them,
so the server records each accepted message's recipients and attachment count (not its bytes:
a thousand messages with four attachments each need not sit in memory). It has none of the
scripted misbehaviour of tests/smtp_server.py: a benchmark times the normal path.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    recipients: tuple[str, ...]
    attachments: int
    size: int


class _CountingHandler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[Received] = []

    async def handle_DATA(self, server, session, envelope):
        content = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        entry = Received(tuple(envelope.rcpt_tos), content.count(b"Content-Disposition: attachment"), len(content))
        with self.lock:
            self.received.append(entry)
        return "250 2.0.0 accepted by the benchmark sink"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CountingSmtpServer:
    """`with CountingSmtpServer() as server:` a listening server on `server.port` until the block ends."""

    def __init__(self) -> None:
        self.port = _free_port()
        self._handler = _CountingHandler()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> CountingSmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    @property
    def received(self) -> list[Received]:
        with self._handler.lock:
            return list(self._handler.received)

    def clear(self) -> None:
        with self._handler.lock:
            self._handler.received.clear()
