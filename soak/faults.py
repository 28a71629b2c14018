"""The faults a soak injects, when, and how many operator alerts each must produce.

- `crlf_account`: an account whose name and owner name hold CR/LF and a header injection attempt.
  Its owner is a valid recipient: the name must be sanitised, the report still delivered, and the
  operator told once that the name is bad source data (a warning of the delivery's alert).
- `kill_run`: the hourly snapshot run of a chosen hour is SIGKILLed (its process group: the run
  worker and its dbt child) once its dbt step started, after the extraction committed. Run
  monitoring must mark it failed and the run-failure sensor alert exactly once; later ticks must
  repair what the run left unbuilt.
- `smtp_4xx`, `smtp_drops`, `smtp_down`: the mail server answers 451, drops connections, or is down
  for a few seconds while a report schedule delivers (down: from the moment the monthly usage
  summaries' delivery claims its first recipient). Delivery retries with backoff: nobody may lose
  a message, and the operator is told once per faulted report period that the server faltered.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from datetime import datetime

import psycopg

from soak.smtp import SoakSmtpServer

CRLF_NAME = "Soak Labs\r\nBcc: intruder@soak.invalid"
CRLF_OWNER = "Carla\r\nReply-To: intruder@soak.invalid"
KILL_AT_STEP = "dbt_hourly_models"
OUTAGE_REPORT = "usage_summary"  # one message per account: an outage during it meets many sends


@dataclass
class Fault:
    kind: str
    planned_at: str  # simulated time, or the schedule whose first tick carries it
    expected_alerts: int
    injected_at: str | None = None
    detail: dict = field(default_factory=dict)


@dataclass
class FaultPlan:
    kill_hour: datetime  # the hour whose hourly snapshot run is killed
    outage_seconds: float
    faults: dict[str, Fault] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kill_hour = self.kill_hour
        self.faults = {
            "crlf_account": Fault("crlf_account", "setup", 1),
            "kill_run": Fault("kill_run", f"hourly_snapshot_schedule at {kill_hour:%Y-%m-%d %H}:05", 1),
            "smtp_4xx": Fault("smtp_4xx", "first reports_daily_schedule tick", 1),
            "smtp_drops": Fault("smtp_drops", "second reports_daily_schedule tick", 1),
            "smtp_down": Fault("smtp_down", "first reports_monthly_schedule tick", 1),
        }
        self._daily_ticks = 0

    def inject_crlf_account(self, source: psycopg.Connection, at: datetime) -> int:
        """Give the busiest account with an owner e-mail (so it gets a usage summary) a name that
        tries to inject a header; every version of its row changes, its owner's address does not."""
        account_id, email = source.execute(
            """
            SELECT a.account_id, a.owner_email
            FROM (SELECT DISTINCT ON (account_id) account_id, owner_email FROM app.accounts
                  ORDER BY account_id, recorded_at DESC) a
            JOIN (SELECT account_id, count(*) AS events FROM app.usage_events GROUP BY 1) u USING (account_id)
            WHERE a.owner_email LIKE '%@%'
            ORDER BY u.events DESC, a.account_id LIMIT 1
            """).fetchone()
        source.execute("UPDATE app.accounts SET account_name = %s, owner_name = %s WHERE account_id = %s",
                       (CRLF_NAME, CRLF_OWNER, account_id))
        self._injected("crlf_account", at, account_id=account_id, owner_email=email)
        return account_id

    def kill_step(self, schedule: str, at: datetime) -> str | None:
        """The step at which to kill this scheduled run, if it is the one to kill."""
        if (schedule == "hourly_snapshot_schedule" and at.replace(minute=0) == self.kill_hour
                and not self.faults["kill_run"].injected_at):
            return KILL_AT_STEP
        return None

    def killed(self, at: datetime, run_id: str | None) -> None:
        self._injected("kill_run", at, run_id=run_id)

    def before_scheduled_run(self, schedule: str, at: datetime, smtp: SoakSmtpServer, period: str) -> None:
        """Arm the mail server's misbehaviour for the report runs that carry it."""
        if schedule == "reports_daily_schedule":
            self._daily_ticks += 1
            if self._daily_ticks == 1:
                smtp.temporary_failures(2)
                self._injected("smtp_4xx", at, replies=2, period=period)
            elif self._daily_ticks == 2:
                smtp.drop_connections(2)
                self._injected("smtp_drops", at, connections=2, period=period)
        elif schedule == "reports_monthly_schedule" and not self.faults["smtp_down"].injected_at:
            smtp.down_while_delivering(os.environ["WAREHOUSE_URL"], OUTAGE_REPORT, period, self.outage_seconds)
            self._injected("smtp_down", at, seconds=self.outage_seconds, period=period, report=OUTAGE_REPORT)

    def alert_markers(self) -> dict[str, str]:
        """Per injected fault, the text its operator alert carries (a run id, an account, a period)."""
        markers = {}
        for kind, fault in self.faults.items():
            if not fault.injected_at:
                continue
            if kind == "kill_run" and fault.detail.get("run_id"):
                markers[kind] = fault.detail["run_id"]
            elif kind == "crlf_account":
                markers[kind] = f"account {fault.detail['account_id']}: its name holds control characters"
            elif kind.startswith("smtp_"):
                markers[kind] = f"{fault.detail['period']}: the mail server faltered"
        return markers

    def _injected(self, kind: str, at: datetime, **detail: object) -> None:
        fault = self.faults[kind]
        fault.injected_at = at.isoformat()
        fault.detail.update(detail)

    def injected(self) -> list[Fault]:
        return [f for f in self.faults.values() if f.injected_at]

    def as_dicts(self) -> list[dict]:
        return [asdict(f) for f in self.faults.values()]
