"""`make soak [DAYS=35]`: run the platform unattended over simulated time, with faults, and judge it.

    python -m soak.run --days 35 [--accounts 40] [--out-dir .local/soak]

On fresh databases of its own (soak/database.py; `SOAK_DATABASE`, default uap_soak), on the server
of WAREHOUSE_URL or the embedded one:
1. the simulator writes the product's history from the 1st of the month the soak starts in (see
   `history_start`) and one account gets a CR/LF name; the history is backfilled once (`run_layers`,
   the CLI backfill), as an operator would before leaving the platform to its schedules;
2. the clock (soak/driver.py) runs the real schedules, automation and run-failure sensor of
   `orchestration.definitions:defs` hour by hour for `--days` days, injecting the faults of
   soak/faults.py, against a local SMTP server (soak/smtp.py);
3. the end state is verified (soak/verification.py) and left in the databases for inspection.
The soak ends at 06:00 UTC on the second day of the latest month that ended at least a day ago, so
it always crosses a month boundary (monthly rollups and reports) and stays inside the retention.
Writes `soak.log` and `summary.json` to --out-dir; exits 1 if any end-of-run assertion fails.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from orchestration.settings import PROJECT_ROOT
from soak.summary import Summary

OPERATOR = "operator@soak.test"
INTERNAL = "finance@soak.test"
log = logging.getLogger("soak")


def default_end(now: datetime | None = None) -> datetime:
    """06:00 UTC on the 2nd of the latest month that began at least three days before `now`."""
    latest = (now or datetime.now(UTC)) - timedelta(days=3)
    return latest.replace(day=2, hour=6, minute=0, second=0, microsecond=0)


def _configure(out_dir: Path, smtp_env: dict[str, str], dagster_storage: str) -> None:
    from orchestration.dagster_instance import apply_event_settings, instance_yaml, storage_url
    from orchestration.settings import FALLBACK_PARTITIONS_START

    home = out_dir / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(instance_yaml(storage_url(dagster_storage)))
    os.environ.update({
        **smtp_env,
        "DAGSTER_HOME": str(home),
        "ARTIFACTS_DIR": str(out_dir / "artifacts"),
        "OPERATOR_EMAIL": OPERATOR,
        "REPORT_INTERNAL_RECIPIENTS": INTERNAL,
        "DELIVERY_MAX_ATTEMPTS": "6",
        "DELIVERY_BACKOFF_SECONDS": "0.5",
        "REPORT_RENDER_WORKERS": "1",
        # retention ages rows by the real clock, which the soak cannot move: nothing simulated is old
        "RETENTION_DAYS": "3650",
        # partitions from before any soak history, never a start a local demo recorded (docs/operations.md)
        "PARTITIONS_START": FALLBACK_PARTITIONS_START,
    })
    apply_event_settings()  # batched event writes, as `make` exports them (orchestration/dagster_instance.py)


def wakes(start: datetime, end: datetime, every_hours: int) -> list[datetime]:
    """The hours in [start, end] at which the daemon runs: every hour, or every `every_hours` hours
    counted from 04:00 UTC so that the report schedules (04:15-04:50) always get their tick."""
    if 24 % every_hours:
        raise ValueError(f"--wake-hours must divide 24, got {every_hours}")
    hours = []
    hour = start
    while hour <= end:
        if (hour.hour - 4) % every_hours == 0:
            hours.append(hour)
        hour += timedelta(hours=1)
    return hours


def history_start(start: datetime) -> datetime:
    """00:00 on the 1st of the month the soak starts in (of the month before, when it starts on the 1st).

    The history backfill then builds every day of that month: a month's rollup waits for all its
    days, so a history starting mid-month would leave the first month unbuilt for good.
    """
    first = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return first if start - first >= timedelta(days=1) else (first - timedelta(days=1)).replace(day=1)


def run(days: int, accounts: int, seed: int, end: datetime, out_dir: Path,
        wake_hours: int = 1, outage_seconds: float = 2.0) -> Summary:
    began = time.perf_counter()
    from soak.database import fresh_databases, set_source_clock
    from soak.faults import FaultPlan
    from soak.smtp import SoakSmtpServer

    start = end - timedelta(days=days)
    history = history_start(start)
    start_day = start.replace(hour=0)
    summary = Summary(days, start.isoformat(), end.isoformat(), accounts, wake_hours)
    schedule = wakes(start, end, wake_hours)
    faults = FaultPlan(next(h for h in schedule if h >= start + timedelta(hours=18)), outage_seconds)
    warehouse_url, source_url, dagster_storage = fresh_databases()
    log.info("databases: warehouse %s, source %s", warehouse_url.split()[-1], source_url.split()[-1])

    from orchestration.source.simulator import append_activity, apply_source_schema, simulate_history
    from orchestration.warehouse.connection import connect
    from orchestration.warehouse.migrate import migrate

    migrate(warehouse_url)
    set_source_clock(source_url, start)
    with connect(source_url) as source:
        apply_source_schema(source)
        simulate_history(source, accounts=accounts, days=(start_day - history).days, seed=seed, end=start_day,
                         late_rate=0.02, bad_rate=0.01)
        append_activity(source, until=start, late_rate=0.02, bad_rate=0.01)
        faults.inject_crlf_account(source, start)
        source.commit()

    with SoakSmtpServer() as smtp:
        _configure(out_dir, smtp.env(), dagster_storage)
        import dagster as dg

        from orchestration.definitions import defs
        from orchestration.pipeline import run_layers
        from soak import verification
        from soak.driver import Driver

        with dg.DagsterInstance.get() as instance:
            log.info("backfill of the history %s .. %s", history, start)
            layers = run_layers(defs, instance, history, start)
            if not all(layer.success for layer in layers):
                raise RuntimeError(f"the history backfill failed: {layers}")
            driver = Driver(defs, instance, source_url, smtp, faults, late_rate=0.02, bad_rate=0.01)
            log.info("clock: %s .. %s, the daemon awake every %d h", start, end, wake_hours)
            for hour in schedule:
                driver.hour(hour)

            summary.ticks, summary.runs = driver.ticks, len(driver.runs)
            summary.runs_failed = sum(not r.success for r in driver.runs)
            summary.sensor_errors = driver.sensor_errors
            summary.faults_injected = faults.as_dicts()
            summary.runs_left_started = verification.runs_left_started(instance)
            with connect(warehouse_url) as wh, connect(source_url) as src:
                summary.drift_by_mart = verification.mart_drift(wh, src, history, end)
                summary.unaccounted_source_rows = verification.unaccounted_source_rows(wh, src, history, end)
                kinds = {job: _reports_of(job) for job, _ in driver.scheduled_periods}
                crlf_owner = faults.faults["crlf_account"].detail.get("owner_email")
                summary.delivery_details = verification.deliveries(wh, smtp, driver.scheduled_periods, kinds,
                                                                   crlf_owner, OPERATOR)
            summary.drifted_cells = sum(m["drifted_cells"] for m in summary.drift_by_mart.values())
            for name in ("deliveries", "lost_emails", "duplicate_emails", "crash_window_duplicates"):
                setattr(summary, name, summary.delivery_details[name])
            found = verification.alerts(smtp, OPERATOR, faults)
            summary.alerts = found["alerts"]
            summary.alerts_per_fault = found["alerts_per_fault"]
            summary.unexpected_alerts = found["unexpected_alerts"]
            (out_dir / "runs.json").write_text(json.dumps([asdict(r) for r in driver.runs], indent=1) + "\n")
    summary.wall_seconds = round(time.perf_counter() - began, 1)
    summary.judge()
    return summary


def _reports_of(job: str) -> list[str]:
    from reports.catalogue import load_catalogue

    kind = job.removeprefix("reports_").removesuffix("_job")
    return [spec.id for spec in load_catalogue().values() if spec.schedule == kind]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=35, help="simulated days the clock runs (default 35)")
    parser.add_argument("--accounts", type=int, default=40, help="accounts the simulated product has")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--wake-hours", type=int, default=1,
                        help="the daemon evaluates every N simulated hours (1: hour by hour; the short "
                             "test uses more, see docs/soak.md)")
    parser.add_argument("--end", type=datetime.fromisoformat, default=None,
                        help="simulated end (UTC, ISO); default: see the module doc")
    parser.add_argument("--out-dir", type=Path, default=PROJECT_ROOT / ".local" / "soak")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.WARNING, format="[soak %(asctime)s] %(name)s %(message)s",
                        handlers=[logging.FileHandler(args.out_dir / "soak.log", mode="w"),
                                  logging.StreamHandler(sys.stderr)])
    log.setLevel(logging.DEBUG if os.environ.get("SOAK_DEBUG") else logging.INFO)
    logging.getLogger("dagster.automation_condition_tester").setLevel(logging.WARNING)
    end = (args.end.replace(tzinfo=UTC) if args.end and args.end.tzinfo is None else args.end) or default_end()
    summary = run(args.days, args.accounts, args.seed, end, args.out_dir, args.wake_hours)
    summary.write(args.out_dir / "summary.json")
    log.info("summary:\n%s", summary.table())
    for failure in summary.failures:
        log.error("FAILED: %s", failure)
    log.info("wrote %s", args.out_dir / "summary.json")
    return 0 if summary.passed else 1


if __name__ == "__main__":
    sys.exit(main())
