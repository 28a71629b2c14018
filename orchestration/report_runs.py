"""Materializing reports from the command line: one report for one period, or every report's
latest complete period (the end of `make demo`).

A report run is the Dagster job of its period kind restricted to that report's assets (input
dataset + its blocking checks, files, delivery), so the CLI leaves the same history, checks and
ledger entries as a scheduled run or a UI materialization.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import dagster as dg

from orchestration.report_deadlines import reports_due
from reports.catalogue import ReportSpec, load_catalogue
from reports.periods import latest_complete_period, period_for


class ReportRequestError(ValueError):
    """An unknown report id or a period that is not one of the report's partitions."""


@dataclass(frozen=True)
class ReportRun:
    report_id: str
    period: str
    success: bool
    failure: str | None


def resolve_request(report_id: str, period: str, today: date | None = None) -> tuple[ReportSpec, str]:
    """The spec and partition key for `--id`/`--period`; `latest` = the latest complete period and
    `YYYY-MM` means that month for a monthly report."""
    from orchestration.defs.reports import report_partitions

    catalogue = load_catalogue()
    if report_id not in catalogue:
        raise ReportRequestError(f"unknown report {report_id!r}; the catalogue has: {', '.join(sorted(catalogue))}")
    spec = catalogue[report_id]
    today = today or datetime.now(UTC).date()
    if period == "latest":
        key = latest_complete_period(spec.schedule, today).key
    else:
        if spec.schedule == "monthly" and re.fullmatch(r"\d{4}-\d{2}", period):
            period += "-01"
        try:
            key = period_for(spec.schedule, period).key
        except ValueError as exc:
            raise ReportRequestError(f"report {report_id} ({spec.schedule}): {exc}") from exc
    keys = report_partitions(spec).get_partition_keys(current_time=datetime.combine(today, time(), tzinfo=UTC))
    if key not in keys:
        span = f"{keys[0]} .. {keys[-1]}" if keys else "none yet"
        raise ReportRequestError(f"report {report_id}: period {key} is not a complete {spec.schedule} period "
                                 f"of the platform (available: {span})")
    return spec, key


def report_asset_keys(defs: dg.Definitions, report_id: str) -> list[dg.AssetKey]:
    """The report's assets that exist in `defs`: input, files and (when defined) delivery."""
    from orchestration.defs.reports import report_artifacts_key, report_input_key

    wanted = [report_input_key(report_id), report_artifacts_key(report_id),
              dg.AssetKey(["reports", f"{report_id}_delivery"])]
    known = defs.resolve_asset_graph().get_all_asset_keys()
    return [key for key in wanted if key in known]


def materialize_report(defs: dg.Definitions, instance: dg.DagsterInstance, spec: ReportSpec, key: str,
                       log_level: str = "WARNING") -> ReportRun:
    result = defs.resolve_job_def(f"reports_{spec.schedule}_job").execute_in_process(
        instance=instance, partition_key=key, asset_selection=report_asset_keys(defs, spec.id),
        raise_on_error=False, run_config={"loggers": {"console": {"config": {"log_level": log_level}}}})
    failure = None
    if not result.success:
        failed = [e for e in result.all_events if e.is_step_failure]
        failure = "; ".join(f"{e.step_key}: {e.step_failure_data.error.message.strip()}" for e in failed
                            if e.step_failure_data and e.step_failure_data.error) or "run failed"
    return ReportRun(spec.id, key, result.success, failure)


def materialize_latest_reports(defs: dg.Definitions, instance: dg.DagsterInstance,
                               at: datetime | None = None, log_level: str = "WARNING") -> list[ReportRun]:
    """Every catalogue report for its latest complete period, and for the older period its freshness
    check expects at `at` (default: now) before the latest period's deadline (report_deadlines.py)."""
    from orchestration.defs.reports import report_partitions

    at = at or datetime.now(UTC)
    runs = []
    for spec in load_catalogue().values():
        known = set(report_partitions(spec).get_partition_keys(current_time=at))
        runs += [materialize_report(defs, instance, spec, period.key, log_level)
                 for period in reports_due(spec.schedule, at) if period.key in known]
    return runs
