"""`usage-analytics`: the operator's command line.

demo      set up the embedded warehouse, simulate a product, backfill every layer, print totals
backfill  materialize every layer for an hour range (one Dagster run per layer)
report    render (and deliver) one catalogue report for one period
status    rows per mart and the newest snapshot hour
erase     erase one account everywhere
retention purge rows past RETENTION_DAYS          (alias: purge)
bulk      a named operation over many accounts    (erase, usage_audit)

Times are ISO 8601 (2026-03-01T00:00Z; no zone means UTC), `now` or `now-48h` / `now-7d`. Runs are
recorded in the Dagster instance under DAGSTER_HOME (default .local/dagster, the one `make ui` shows).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from orchestration import cli_operations
from orchestration.dagster_instance import apply_event_settings
from orchestration.dbt_project import prepare_manifest_if_stale
from orchestration.demo_stages import StageClock, expected_seconds, format_duration

HOUR = timedelta(hours=1)
TIME_FORMAT_HELP = ("ISO 8601 time, e.g. 2026-03-01T00:00Z (no zone: UTC), 'now' or 'now-48h' / 'now-7d'; "
                    "floored to the hour")
RELATIVE_TIME = re.compile(r"now-(\d+)([hd])")
VERBOSE_HELP = ("show Dagster's step log and dbt's per-model lines here "
                "(default: warnings only; dbt's lines go to .local/logs/dbt.log)")
DEMO_INTERNAL_RECIPIENT = "internal-reports@example.invalid"
DEMO_REPORT_SAMPLE = "20"  # per-account summaries the demo renders, unless REPORT_ACCOUNT_SAMPLE says
# The demo's stage each layer's run belongs to (orchestration/demo_stages.py), and the layer that ends it.
LAYER_STAGES = {"hourly_snapshot_job": "snapshots", "daily_rollup_job": "rollups",
                "monthly_rollup_job": "rollups", "dimensions_job": "marts"}
LAST_LAYER_OF_STAGE = {"hourly_snapshot_job", "monthly_rollup_job", "dimensions_job"}


def _report_ids() -> list[str]:
    from reports.catalogue import load_catalogue

    return sorted(load_catalogue())


def _parse_time(value: str) -> datetime:
    if value == "now":
        return datetime.now(UTC)
    if relative := RELATIVE_TIME.fullmatch(value):
        amount, unit = int(relative[1]), relative[2]
        return datetime.now(UTC) - (timedelta(hours=amount) if unit == "h" else timedelta(days=amount))
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a time: expected {TIME_FORMAT_HELP}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def default_dagster_home() -> Path:
    """Where `make` points DAGSTER_HOME: runs started here then show in `make ui`."""
    from orchestration.settings import get_settings

    return get_settings().local_dir / "dagster"


def _instance():
    """DAGSTER_HOME's instance (default: the one `make ui` reads), configured on first use."""
    import dagster as dg

    from orchestration.dagster_instance import ensure_instance_config

    home = Path(os.environ.setdefault("DAGSTER_HOME", str(default_dagster_home())))
    ensure_instance_config(home)
    return dg.DagsterInstance.get()


def _log_level(verbose: bool) -> str:
    """Dagster's console level for a run: INFO shows every step and dbt's per-model lines."""
    return "INFO" if verbose else "WARNING"


def _dbt_output(verbose: bool) -> TextIO | None:
    """Where dbt's per-model lines go: the terminal with --verbose, else a log file (see pipeline.run_layers)."""
    if verbose:
        return None
    from orchestration.settings import get_settings

    path = get_settings().local_dir / "logs" / "dbt.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"  dbt's output goes to {path} (--verbose shows it here)")
    return path.open("a", encoding="utf-8")


def _run(start: datetime, end: datetime, heal_since: datetime | None = None, verbose: bool = False,
         clock: StageClock | None = None) -> bool:
    from orchestration.definitions import defs
    from orchestration.pipeline import run_layers
    from orchestration.progress import ProgressBar

    def on_layer(done: int, planned: int, layer) -> None:
        span = f"{layer.first_partition} .. {layer.last_partition}" if layer.first_partition else "all"
        state = "ok" if layer.success else "FAILED"
        print(f"  {layer.job:<22} {span:<36} {layer.seconds:7.1f} s  {state}")
        ProgressBar(planned).update(done, f"layers done ({layer.job} {state})")
        if clock is not None:
            stage = LAYER_STAGES[layer.job]
            clock.add(stage, layer.seconds)
            if layer.job in LAST_LAYER_OF_STAGE:
                clock.report(stage)

    dbt_output = _dbt_output(verbose)
    try:
        layers = run_layers(defs, _instance(), start, end, log_level=_log_level(verbose), heal_since=heal_since,
                            on_layer=on_layer, stdout=dbt_output)
    finally:
        if dbt_output is not None:
            dbt_output.close()
    return all(layer.success for layer in layers)


def _run_models(verbose: bool = False) -> bool:
    """The daily models and forecasts (ml_job), as their 03:00 automation would run them."""
    from orchestration.definitions import defs

    began = time.perf_counter()
    result = defs.resolve_job_def("ml_job").execute_in_process(
        instance=_instance(), raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": _log_level(verbose)}}}})
    state = "ok" if result.success else "FAILED"
    print(f"  {'ml_job':<22} {'all':<36} {time.perf_counter() - began:7.1f} s  {state}")
    return result.success


def _report_sample(value: str) -> str:
    """--report-sample: a positive number of accounts or `all`, kept as written (REPORT_ACCOUNT_SAMPLE's form)."""
    from reports.sampling import parse_account_sample

    try:
        parse_account_sample(value, "--report-sample")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return value.strip().lower()


def _run_reports(sample: str, verbose: bool = False) -> bool:
    """Every catalogue report for its latest complete period, after the models (as `make demo` ends).

    Per-account summaries are rendered for `sample` accounts (REPORT_ACCOUNT_SAMPLE): each costs
    about 0.7 s of CPU in every format with Debian's libharfbuzz-subset0, 1.7 s without it (weasyprint
    then subsets the fonts with fontTools), so all 1,400 of a 2,000-account demo would take most of its time.
    """
    from orchestration.definitions import defs
    from orchestration.report_runs import materialize_latest_reports
    from orchestration.settings import get_settings
    from reports.sampling import SAMPLE_ENV

    if not os.environ.get("SMTP_HOST") and not os.environ.get("REPORT_INTERNAL_RECIPIENTS"):
        # The demo's outbox gets the internal reports too, addressed to a reserved, undeliverable domain.
        os.environ["REPORT_INTERNAL_RECIPIENTS"] = DEMO_INTERNAL_RECIPIENT
        print(f"  internal reports addressed to {DEMO_INTERNAL_RECIPIENT} (REPORT_INTERNAL_RECIPIENTS unset)")
    os.environ[SAMPLE_ENV] = sample
    print("  rendering and delivering every report for its latest complete period; per-account summaries "
          + ("for every account" if sample == "all" else f"for a sample of {sample} accounts")
          + " (--report-sample / REPORT_ACCOUNT_SAMPLE)...")
    runs = materialize_latest_reports(defs, _instance(), log_level=_log_level(verbose))
    for run in runs:
        print(f"  report {run.report_id:<24} {run.period:<12} {'ok' if run.success else 'FAILED: ' + str(run.failure)}")
    print(f"  files under {get_settings().artifacts_dir}")
    return all(run.success for run in runs)


def _mart_rows() -> dict[str, int]:
    from psycopg import sql

    from orchestration.warehouse.connection import connect, warehouse_url

    with connect(warehouse_url()) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' "
            "ORDER BY table_name")]
        return {
            name: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier("marts", name))).fetchone()[0]
            for name in tables
        }


def _demo_params(args: argparse.Namespace) -> dict:
    return {"accounts": args.accounts, "days": args.days, "seed": args.seed}


def _simulated_before(args: argparse.Namespace) -> bool:
    """Whether an earlier demo simulated the source with these settings (then this one appends)."""
    from orchestration.settings import get_settings

    marker = get_settings().local_dir / "demo.json"
    previous = json.loads(marker.read_text()) if marker.exists() else None
    return bool(previous) and previous.get("params") == _demo_params(args)


def _simulate(args: argparse.Namespace, now: datetime, append: bool, history: datetime) -> None:
    """Simulate the source afresh from `history`, or append activity up to now to an earlier demo's source."""
    from orchestration.demo_history import simulate_demo_history
    from orchestration.settings import get_settings
    from orchestration.source.simulator import append_activity, apply_source_schema
    from orchestration.warehouse.connection import connect, source_url

    with connect(source_url()) as conn:
        apply_source_schema(conn)
        if append:
            print("Source already simulated with these settings: appending activity up to now.")
            written = append_activity(conn, until=now)
        else:
            print(f"Simulating {args.accounts} accounts from {history:%Y-%m-%d} (--days {args.days}, back to the "
                  f"1st of that month; seed {args.seed})...")
            written = simulate_demo_history(conn, accounts=args.accounts, seed=args.seed, start=history, now=now)
            marker = get_settings().local_dir / "demo.json"
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps({"params": _demo_params(args), "end": _floor_hour(now).isoformat()}))
        conn.commit()
    print("  source rows written: " + ", ".join(f"{k}={v}" for k, v in written.items()))


def demo(args: argparse.Namespace) -> int:
    from orchestration.demo_history import prepare_history
    from orchestration.demo_ui import DemoUI
    from orchestration.settings import get_settings
    from orchestration.snapshots.late_data import find_stale_hours, range_to_extract
    from orchestration.warehouse.connection import connect, source_url, warehouse_url
    from orchestration.warehouse.migrate import migrate

    settings = get_settings()
    # The partitions start where the history does: recorded before any definitions load (a UI too).
    history, fresh = prepare_history(datetime.now(UTC), args.days, fresh=not _simulated_before(args))
    append = not fresh
    history_days = max(args.days, (datetime.now(UTC) - history) / timedelta(days=1))
    clock = StageClock(expected_seconds(args.accounts, round(history_days)), sys.stdout)
    clock.announce(first_run=not append)
    url = warehouse_url()
    migrate(url)
    _instance()  # DAGSTER_HOME set and configured before the UI reads it
    ui = DemoUI.start(args.ui_port, settings.local_dir / "logs") if args.ui else None
    try:
        now = datetime.now(UTC)
        newest_hour = _floor_hour(now) - HOUR
        with clock.stage("simulate"):
            _simulate(args, now, append, history)
        clock.report("simulate")

        with connect(source_url()) as source, connect(url) as warehouse:
            stale = find_stale_hours(source, warehouse, newest_hour, (newest_hour - history) // HOUR)
        start, end = range_to_extract(stale, newest_hour)
        start = max(start, history)
        print(f"Materializing {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC through Dagster:")
        ok = _run(start, end, heal_since=history, verbose=args.verbose, clock=clock)
        if ok:
            with clock.stage("models"):
                ok = _run_models(args.verbose)
            clock.report("models")
        if ok:
            with clock.stage("reports"):
                ok = _run_reports(args.report_sample, args.verbose)
            clock.report("reports")
        print("Rows per mart:")
        for name, rows in _mart_rows().items():
            print(f"  marts.{name:<32} {rows:>10,}")
        print("Stage times:")
        print("\n".join(clock.summary_lines()))
        clock.write(settings.local_dir / "demo-stages.json",
                    {**_demo_params(args), "first_run": not append, "report_sample": args.report_sample})
        print(f"Demo {'done' if ok else 'FAILED'} in {format_duration(clock.elapsed())}.")
        if ui is None:
            print("Open the Dagster UI with `make ui`, then http://127.0.0.1:3000")
        else:
            print(f"The Dagster UI stays up at {ui.url}, its daemon (schedules, sensors, automation) now "
                  "started too; Ctrl-C stops both (`make ui` starts them again).")
            ui.start_daemon()
            ui.wait()
        return 0 if ok else 1
    finally:
        if ui is not None:
            ui.stop()


def backfill(args: argparse.Namespace) -> int:
    start, end = _floor_hour(args.start), _floor_hour(args.end)
    if start >= end:
        print(f"error: --from {args.start.isoformat()} must be before --to {args.end.isoformat()}",
              file=sys.stderr)
        return 2
    return 0 if _run(start, end, verbose=args.verbose) else 1


def report(args: argparse.Namespace) -> int:
    from orchestration.definitions import defs
    from orchestration.report_runs import ReportRequestError, materialize_report, resolve_request
    from orchestration.settings import get_settings

    try:
        spec, key = resolve_request(args.report_id, args.period)
    except ReportRequestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    began = time.perf_counter()
    run = materialize_report(defs, _instance(), spec, key, log_level=_log_level(args.verbose))
    if not run.success:
        print(f"report {spec.id} {key} FAILED: {run.failure}", file=sys.stderr)
        return 1
    print(f"report {spec.id} {key}: ok in {time.perf_counter() - began:.1f} s; "
          f"files in {get_settings().artifacts_dir / spec.id / key}")
    return 0


def status(args: argparse.Namespace) -> int:
    from orchestration.warehouse.connection import connect, warehouse_url

    with connect(warehouse_url()) as conn:
        migrated = conn.execute("SELECT to_regclass('raw.snapshot_log')").fetchone()[0]
        if migrated is None:
            print(f"error: the warehouse at {conn.info.dbname!r} holds no platform tables yet; "
                  "run `make demo` or `usage-analytics backfill` first", file=sys.stderr)
            return 1
        newest = conn.execute("SELECT max(partition_hour) FROM raw.snapshot_log").fetchone()[0]
    rows = _mart_rows()
    width = max((len(name) for name in rows), default=0) + len("marts.")
    for name, count in rows.items():
        print(f"{'marts.' + name:<{width}}  {count:>12,}")
    print(f"newest snapshot hour: {newest}")
    return 0


def main(argv: list[str] | None = None) -> int:
    # Dagster sets its own loggers to INFO; the console handler's level keeps their records (and
    # dbt's per-model lines) out of the terminal. The full log is in the Dagster instance.
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    logging.basicConfig(level=logging.WARNING, handlers=[console])
    sys.stdout.reconfigure(line_buffering=True)  # progress lines appear as they happen
    # Partitioned asset checks (each partition checked on its own) are a Dagster preview feature we
    # rely on deliberately; the notice says nothing an operator can act on.
    warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")
    apply_event_settings()
    prepare_manifest_if_stale()  # the commands load the definitions, which read dbt's manifest
    parser = argparse.ArgumentParser(prog="usage-analytics", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("demo", help="simulate a product and build every layer")
    p.add_argument("--accounts", type=int, default=2000, help="simulated accounts (default: %(default)s)")
    p.add_argument("--days", type=int, default=90,
                   help="days of history, back to the 1st of that month (default: %(default)s)")
    p.add_argument("--seed", type=int, default=7, help="the simulation's random seed (default: %(default)s)")
    p.add_argument("--report-sample", type=_report_sample, metavar="N",
                   default=os.environ.get("REPORT_ACCOUNT_SAMPLE") or DEMO_REPORT_SAMPLE,
                   help="accounts whose per-account summary is rendered and delivered, or 'all' "
                        "(default: REPORT_ACCOUNT_SAMPLE, else %(default)s)")
    p.add_argument("--ui", action="store_true",
                   help="start the Dagster UI first, so the runs can be watched, and keep it running after the "
                        "demo, with its daemon, until Ctrl-C (`make demo` does)")
    p.add_argument("--ui-port", type=int, default=3000, metavar="PORT",
                   help="the UI's port on 127.0.0.1 (default: %(default)s)")
    p.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    p.set_defaults(func=demo)
    p = commands.add_parser("backfill", help="materialize every layer for an hour range")
    p.add_argument("--from", dest="start", type=_parse_time, required=True, metavar="TIME",
                   help=f"first hour, inclusive: {TIME_FORMAT_HELP}")
    p.add_argument("--to", dest="end", type=_parse_time, required=True, metavar="TIME",
                   help=f"end hour, exclusive: {TIME_FORMAT_HELP}")
    p.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    p.set_defaults(func=backfill)
    report_ids = _report_ids()
    p = commands.add_parser("report", help="render (and deliver) one report for one period")
    p.add_argument("--id", dest="report_id", required=True, metavar="REPORT",
                   help="one of: " + ", ".join(report_ids))
    p.add_argument("--period", required=True,
                   help="the period's first day (YYYY-MM-DD; YYYY-MM for monthly reports) or 'latest'")
    p.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    p.set_defaults(func=report)
    p = commands.add_parser("status", help="rows per mart and the newest snapshot")
    p.set_defaults(func=status)
    cli_operations.register(commands)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
