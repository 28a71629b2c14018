"""The soak's mail server: aiosmtpd on 127.0.0.1 that misbehaves on cue.

tests/smtp_server.py's LocalSmtpServer already records every accepted message and can drop
connections or answer DATA with a 4xx; the soak adds being down for a while (the listener closed,
so connections are refused, then opened again on the same port with the same record), from the
moment a given delivery starts.
"""

from __future__ import annotations

import threading

import psycopg

from tests.smtp_server import LocalSmtpServer

WATCH_SECONDS = 0.05


class SoakSmtpServer(LocalSmtpServer):
    def __init__(self) -> None:
        super().__init__()
        self._outage: threading.Timer | None = None
        self._watcher: threading.Thread | None = None
        self._closing = threading.Event()

    def down_while_delivering(self, warehouse_url: str, report_id: str, period: str, seconds: float) -> None:
        """Go down for `seconds` once the delivery of `report_id` for `period` has claimed its first
        recipient (reports.delivery_ledger): rendering before it takes longer than an outage lasts,
        so an outage armed when the run starts would be over before anything is sent."""
        def watch() -> None:
            with psycopg.connect(warehouse_url, autocommit=True) as conn:
                while not self._closing.wait(WATCH_SECONDS):
                    if conn.execute("SELECT 1 FROM reports.delivery_ledger WHERE report_id = %s AND period = %s",
                                    (report_id, period)).fetchone():
                        self.down_for(seconds)
                        return

        self._watcher = threading.Thread(target=watch, name="soak-smtp-outage", daemon=True)
        self._watcher.start()

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
        self._closing.set()
        if self._watcher is not None:
            self._watcher.join()
        if self._outage is not None:
            self._outage.join()
        super().__exit__(*exc)
