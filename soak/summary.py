"""The soak's verdict: the summary JSON written next to its log, and the failures it lists."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Summary:
    simulated_days: int
    simulated_start: str
    simulated_end: str
    accounts: int
    wake_hours: int
    ticks: int = 0
    runs: int = 0
    runs_failed: int = 0
    faults_injected: list[dict] = field(default_factory=list)
    alerts: int = 0
    alerts_per_fault: dict[str, int] = field(default_factory=dict)
    unexpected_alerts: list[str] = field(default_factory=list)
    deliveries: int = 0
    lost_emails: int = 0
    duplicate_emails: int = 0
    crash_window_duplicates: int = 0
    drifted_cells: int = 0
    drift_by_mart: dict[str, dict] = field(default_factory=dict)
    runs_left_started: list[str] = field(default_factory=list)
    unaccounted_source_rows: dict[str, int] = field(default_factory=dict)
    delivery_details: dict = field(default_factory=dict)
    sensor_errors: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def judge(self) -> None:
        """List every end-of-run assertion that does not hold (an empty list: the soak passed)."""
        f = self.failures
        f.clear()
        if self.drifted_cells:
            f.append(f"marts drift from the independent computation: {self.drifted_cells} cells "
                     f"({ {k: v['drifted_cells'] for k, v in self.drift_by_mart.items() if v['drifted_cells']} })")
        if self.lost_emails:
            f.append(f"lost e-mails: {self.lost_emails}")
        if self.duplicate_emails > self.crash_window_duplicates:
            f.append(f"duplicate e-mails outside the crash window: {self.duplicate_emails}")
        if not self.delivery_details.get("crlf_owner_served"):
            f.append("the owner of the account with CR/LF in its name did not get the monthly usage summary")
        for fault in self.faults_injected:
            got = self.alerts_per_fault.get(fault["kind"], 0)
            if fault["injected_at"] and got != fault["expected_alerts"]:
                f.append(f"fault {fault['kind']}: {got} operator alerts, expected {fault['expected_alerts']}")
            if not fault["injected_at"]:
                f.append(f"fault {fault['kind']} was never injected ({fault['planned_at']})")
        if self.unexpected_alerts:
            f.append(f"alerts no fault explains: {self.unexpected_alerts[:5]}")
        if self.runs_left_started:
            f.append(f"runs left STARTED: {self.runs_left_started}")
        if any(self.unaccounted_source_rows.values()):
            f.append(f"source rows in neither raw nor quarantine: {self.unaccounted_source_rows}")

    @property
    def passed(self) -> bool:
        return not self.failures

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**asdict(self), "passed": self.passed}, indent=2, default=str) + "\n")

    def table(self) -> str:
        """The closing note's table."""
        rows = [("simulated days", self.simulated_days), ("ticks", self.ticks),
                ("runs (failed)", f"{self.runs} ({self.runs_failed})"),
                ("faults injected", sum(1 for f in self.faults_injected if f["injected_at"])),
                ("alerts", self.alerts), ("deliveries", self.deliveries), ("drifted cells", self.drifted_cells),
                ("lost e-mails", self.lost_emails),
                ("duplicate e-mails (crash window)", f"{self.duplicate_emails} ({self.crash_window_duplicates})"),
                ("wall time", f"{self.wall_seconds:.0f} s")]
        return "\n".join(f"| {name} | {value} |" for name, value in rows)
