"""The report gate: a report's input dataset must pass its expectation suite before it is rendered
or sent. `validate_report_input` is what the blocking Dagster asset checks call.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pandas as pd

from expectations.report_suites import SUITES
from expectations.runner import ExpectationFailure, run_checks
from reports.periods import Period

__all__ = ["ExpectationFailure", "GateResult", "validate_report_input"]


@dataclass(frozen=True)
class GateResult:
    report_id: str
    expectations_evaluated: int
    failures: list[ExpectationFailure] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.failures

    def describe(self) -> str:
        """One line per failed expectation, naming it, its table/column and the failing rows."""
        if self.success:
            return f"{self.report_id}: all {self.expectations_evaluated} expectations passed"
        lines = [f"{self.report_id}: {len(self.failures)} of {self.expectations_evaluated} expectations failed"]
        lines += [f"- {failure.describe()}" for failure in self.failures]
        return "\n".join(lines)

    def fingerprint(self) -> str:
        """Stable id of what failed (not when): one operator alert per distinct failure."""
        return hashlib.sha256(self.describe().encode()).hexdigest()[:16]


def validate_report_input(report_id: str, dataset: dict[str, pd.DataFrame], period: Period) -> GateResult:
    """Run the report's suite on its dataset for `period` (date-range expectations need the period)."""
    suite = SUITES.get(report_id)
    if suite is None:
        raise KeyError(f"report {report_id!r} has no expectation suite in expectations/report_suites.py; "
                       "every report must be gated")
    failures, evaluated = run_checks(report_id, suite(period), dataset)
    return GateResult(report_id, evaluated, failures)
