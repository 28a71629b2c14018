"""Model figures for `make bench` (issue 14): per-account forecasts and the whole `ml_job`.

* ``ml_account_forecasts_panel``: `forecast_accounts` on a synthetic panel of the goal's size (2,000
  accounts x 4 metrics x 90 days, bench/ml_panel.py; 200 accounts at scale ``small``, the CI smoke test):
  every backtest and forecast, series preparation included. Goal <= 30 s on 2 cores for 2,000 accounts.
* ``ml_account_forecasts``: the same on the benchmark database's own last 90 days, read as the asset
  reads them (the scale decides the number of accounts).
* ``ml_job``: the whole `ml_job` in process on the benchmark database (every ml asset and its checks),
  Dagster instance as `make` configures one. Goal <= 60 s on the demo dataset.
The notes give the number of series and the models chosen.

Runnable alone, without the rest of `make bench`, on a database of the demo's size:

    python -m bench.figures_ml [--accounts 2000] [--days 90] [--repeat 1] [--reuse]

simulates the product into the benchmark database (BENCH_DATABASE, dropped and created afresh), backfills
every layer through Dagster as `make demo` does, then prints the figures above as JSON with the load average
before and after (the ml figures are CPU-bound: a loaded machine stretches them). ``--reuse`` skips the
simulation and backfill and measures on the database a previous run left.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import timedelta

from bench.hooks import BenchContext, Figure, extra_figure
from bench.measure import QUIET, _instance_dir

PANEL_ACCOUNTS = {"small": 200}  # the CI smoke test stays short; every other scale times the goal's 2,000


def _models_note(run) -> str:
    chosen = run.backtests[run.backtests.chosen].model.value_counts()
    return f"{int(run.timings['series'])} series; models chosen: " + ", ".join(
        f"{model} {count}" for model, count in chosen.items())


def _time_forecasts(daily, plans, repeat: int) -> tuple[list[float], list[str]]:
    from orchestration.ml.account_forecasts import forecast_accounts
    from orchestration.ml.platform_series import USAGE_METRICS

    runs, run = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        run = forecast_accounts(daily, plans, USAGE_METRICS, horizon=28, history_days=90)
        runs.append(time.perf_counter() - began)
    timings = {k: round(v, 2) for k, v in run.timings.items() if k.endswith("seconds")}
    return runs, [_models_note(run), f"last run's split: {timings}"]


@extra_figure
def ml_figures(ctx: BenchContext) -> dict[str, Figure]:
    import dagster as dg

    from bench.ml_panel import usage_panel
    from orchestration.definitions import defs
    from orchestration.ml.platform_series import USAGE_METRICS
    from orchestration.warehouse.frames import read_frame

    figures: dict[str, Figure] = {}
    accounts = PANEL_ACCOUNTS.get(ctx.scale, 2000)
    daily, plans = usage_panel(accounts=accounts, days=90)
    runs, notes = _time_forecasts(daily, plans, ctx.repeat)
    figures["ml_account_forecasts_panel"] = Figure(
        f"Per-account forecasts, {accounts:,} accounts x 4 metrics x 90 days (synthetic panel)", "s", runs,
        goal="<= 30 s (2,000 accounts)", notes=notes)

    columns = ", ".join(USAGE_METRICS)
    daily = read_frame(ctx.url, f"""SELECT account_id, usage_date, {columns} FROM marts.fct_usage_daily
        WHERE usage_date > (SELECT max(usage_date) FROM marts.fct_usage_daily) - 90""")
    plans_frame = read_frame(ctx.url, """SELECT account_id, current_plan_id FROM marts.dim_accounts
        WHERE current_subscription_status <> 'none' AND current_plan_id IS NOT NULL""")
    if not daily.empty:
        runs, notes = _time_forecasts(daily, dict(zip(plans_frame.account_id, plans_frame.current_plan_id,
                                                      strict=True)), ctx.repeat)
        figures["ml_account_forecasts"] = Figure("Per-account forecasts on the benchmark database", "s", runs,
                                                 notes=notes)

    job = defs.resolve_job_def("ml_job")
    runs = []
    with dg.DagsterInstance.local_temp(tempdir=_instance_dir(ctx.workdir / "ml-job")) as instance:
        for _ in range(ctx.repeat):
            began = time.perf_counter()
            job.execute_in_process(instance=instance, run_config=QUIET, raise_on_error=True)
            runs.append(time.perf_counter() - began)
    figures["ml_job"] = Figure("Whole ml_job in process (every ml asset and check)", "s", runs, goal="<= 60 s")
    return figures


def main(argv: list[str] | None = None) -> int:
    """Build a demo-sized benchmark database (unless --reuse) and print the ml figures as JSON."""
    from bench import measure
    from bench.database import bench_database, fresh_database
    from bench.report import summarise
    from bench.run import WORK
    from bench.scales import HISTORY_END
    from orchestration.warehouse.connection import warehouse_url

    parser = argparse.ArgumentParser(prog="python -m bench.figures_ml", description=main.__doc__)
    parser.add_argument("--accounts", type=int, default=2000, help="simulated accounts (the demo's 2000)")
    parser.add_argument("--days", type=int, default=90, help="days of history (the demo's 90)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure")
    parser.add_argument("--reuse", action="store_true", help="measure on the database a previous run built")
    args = parser.parse_args(argv)
    workdir = WORK / "ml"
    workdir.mkdir(parents=True, exist_ok=True)
    if args.reuse:
        os.environ["WAREHOUSE_URL"] = url = _bench_url(bench_database())
        os.environ.pop("SOURCE_URL", None)
        warehouse_url.cache_clear()
    else:
        url = fresh_database()
        start = HISTORY_END - timedelta(days=args.days)
        print(f"simulating {args.accounts} accounts x {args.days} days into {bench_database()}", file=sys.stderr)
        measure.simulate(url, args.accounts, args.days, seed=7, end=HISTORY_END)
        print("backfilling every layer through Dagster", file=sys.stderr)
        measure.backfill(start, HISTORY_END, workdir / "backfill")
    load_before = os.getloadavg()
    figures = ml_figures(BenchContext(url=url, scale="full", repeat=args.repeat, workdir=workdir))
    print(json.dumps({"accounts": args.accounts, "days": args.days, "load_average_before": load_before,
                      "load_average_after": os.getloadavg(), "cpus": os.cpu_count(),
                      "figures": {k: summarise(f) for k, f in figures.items()}}, indent=2, default=str))
    return 0


def _bench_url(name: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from bench.database import _server_url

    return make_conninfo(**{**conninfo_to_dict(_server_url()), "dbname": name})


if __name__ == "__main__":
    sys.exit(main())
