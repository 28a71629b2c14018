"""The soak's mail server: aiosmtpd on 127.0.0.1 that misbehaves on cue.

tests/smtp_server.py's LocalSmtpServer already records every accepted message and can drop
connections or answer DATA with a 4xx; the soak adds being down for a while (the listener closed,
so connections are refused, then opened again on the same port with the same record).
"""

from __future__ import annotations

import threading

from tests.smtp_server import LocalSmtpServer


class SoakSmtpServer(LocalSmtpServer):
    def __init__(self) -> None:
        super().__init__()
        self._outage: threading.Timer | None = None

    def temporary_failures(self, replies: int) -> None:
        """The next `replies` messages get 451 after DATA (the client must retry)."""
        self.script.data_replies.extend(["451 4.3.0 soak: mailbox busy, try again later"] * replies)

    def drop_connections(self, count: int) -> None:
        """The next `count` connections are closed before the greeting."""
        self.script.drop_connections += count

    def down_for(self, seconds: float) -> None:
        """Refuse connections from now on, for `seconds` of real time."""
        self.controller.stop()
        self._outage = threading.Timer(seconds, self._come_up)
        self._outage.start()

    def _come_up(self) -> None:
        # a stopped aiosmtpd controller cannot start again: a new one on the same port and handler
        self.controller = type(self.controller)(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def __exit__(self, *exc: object) -> None:
        if self._outage is not None:
            self._outage.join()
        super().__exit__(*exc)
