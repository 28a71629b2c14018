"""`make bench [SCALE=small|medium|full]`: measure the platform against the plain-SQL floor (issue 6).

    python -m bench.run --scale small [--out-dir DIR]

Two phases, each on a freshly created benchmark database (bench/database.py; never the demo's or a
test's), on the same simulated product (bench/scales.py, fixed seed and dates):

1. short history: 1 day simulated, its hourly layer built, then the hourly tick `tick_repeat` times
   (after one warm-up tick);
2. long history (the scale's days): the backfill through Dagster and the floor SQL side by side,
   `repeat` times each, interleaved, each backfill into an empty warehouse (the database is created
   and simulated again before each); their outputs compared; ingest into empty raw tables `repeat`
   times; the
   hourly tick again; a cold code-location load and a bare dbt invocation; figures registered in
   bench/hooks.py.

At scale full, and alone with `--only demo` (`make bench ONLY=demo`) at any scale, the demo's figures
follow (bench/demo_stages.py): `usage-analytics demo` per stage and the virtualenv install (install at
scale full only: it takes minutes).

Writes results JSON and BENCHMARKS.md: at scale `full` to `bench/results.json` and `BENCHMARKS.md`
(committed), at other scales to `bench/work/results-<scale>.json` and `bench/work/BENCHMARKS-<scale>.md`
(ignored by git), or wherever --out-dir says. Scratch files (Dagster instances) go to bench/work/<scale>/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import measure
from bench.database import fresh_database
from bench.demo_stages import demo_figures
from bench.hooks import BenchContext, Figure, extra_figures
from bench.machine import describe
from bench.report import DEMO_SECTION, markdown, section, splice_section, summarise
from bench.scales import HISTORY_END, SHORT_TICK_HISTORY_DAYS, Scale, scale
from orchestration.settings import PROJECT_ROOT, get_settings

WORK = PROJECT_ROOT / "bench" / "work"


def _log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def _ticks(prefix: str, title: str, ticks: list[dict]) -> dict[str, Figure]:
    return {
        f"{prefix}_wall": Figure(f"{title}: wall", "s", [t["wall_seconds"] for t in ticks]),
        f"{prefix}_snapshot_sql": Figure(f"{title}: extraction SQL", "s", [t["snapshot_sql_seconds"] for t in ticks]),
        f"{prefix}_dbt_sql": Figure(f"{title}: dbt model + test SQL", "s", [t["dbt_sql_seconds"] for t in ticks]),
        f"{prefix}_overhead": Figure(f"{title}: Dagster + dbt overhead", "s", [t["overhead_seconds"] for t in ticks]),
    }


def run(sc: Scale) -> dict:
    workdir = WORK / sc.name
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    end = HISTORY_END
    start = end - timedelta(days=sc.days)
    # Unless set, the benchmark's partitions start with its history, never where a local demo's did.
    os.environ.setdefault("PARTITIONS_START", f"{start:%Y-%m-%d}")
    partitions_start = datetime.fromisoformat(get_settings().partitions_start).replace(tzinfo=UTC)
    if start < partitions_start:
        raise ValueError(f"PARTITIONS_START={partitions_start:%Y-%m-%d} is after the benchmark history's start "
                         f"({start:%Y-%m-%d}): unset it or set it no later than that for `make bench`")

    _log(f"phase 1: {SHORT_TICK_HISTORY_DAYS}-day history, {sc.accounts} accounts")
    url = fresh_database()
    machine = describe(url)
    measure.simulate(url, sc.accounts, SHORT_TICK_HISTORY_DAYS, sc.seed, end)
    ticks_short = measure.hourly_ticks(url, end - timedelta(days=SHORT_TICK_HISTORY_DAYS), end, sc.tick_repeat,
                                       workdir / "tick-short")

    _log(f"phase 2: {sc.days}-day history")
    url = fresh_database()
    simulated = measure.simulate(url, sc.accounts, sc.days, sc.seed, end)
    usage_rows = measure.usage_rows(url)
    backfills, floors = [], []
    for i in range(sc.repeat):
        if i:  # every backfill starts from an empty warehouse: the same seed simulates the same source
            url = fresh_database()
            measure.simulate(url, sc.accounts, sc.days, sc.seed, end)
        _log(f"backfill {i + 1}/{sc.repeat}")
        backfills.append(measure.backfill(start, end, workdir / f"backfill-{i}"))
        floors.append(measure.floor(url, start, end))
    floor_check = measure.floor_check(url)
    _log("ingest")
    ingests = [measure.ingest(url, start, end) for _ in range(sc.repeat)]
    _log("hourly ticks")
    ticks_long = measure.hourly_ticks(url, None, end, sc.tick_repeat, workdir / "tick-long")
    code_loads = [measure.code_load_seconds() for _ in range(sc.repeat)]
    dbt_calls = [measure.dbt_invocation_seconds(url) for _ in range(sc.repeat)]

    def layer(job: str) -> list[float]:
        return [next((x["seconds"] for x in b["layers"] if x["job"] == job), 0.0) for b in backfills]

    figures: dict[str, Figure] = {
        "backfill_dagster": Figure("Backfill through Dagster (usage layers)", "s",
                                   [b["usage_layers_seconds"] for b in backfills]),
        "backfill_floor": Figure("Same work in plain SQL (floor)", "s", [f["seconds"] for f in floors]),
        "backfill_ratio": Figure("Dagster ÷ floor", "×", [b["usage_layers_seconds"] / f["seconds"]
                                                         for b, f in zip(backfills, floors, strict=True)]),
        "backfill_layer_hourly": Figure("… hourly snapshots + fct_usage_hourly", "s", layer("hourly_snapshot_job")),
        "backfill_layer_daily": Figure("… daily rollups", "s", layer("daily_rollup_job")),
        "backfill_layer_monthly": Figure("… monthly rollups", "s", layer("monthly_rollup_job")),
        "backfill_dimensions": Figure("Unpartitioned marts (not in the ratio)", "s",
                                      [b["dimensions_seconds"] for b in backfills]),
        "backfill_process_wall": Figure("Backfill process wall, code load included", "s",
                                        [b["wall_seconds"] for b in backfills]),
        **_ticks("tick_short", f"Tick, {SHORT_TICK_HISTORY_DAYS}-day history", ticks_short),
        **_ticks("tick_long", f"Tick, {sc.days}-day history", ticks_long),
        "tick_history_ratio": Figure(f"Tick wall, {sc.days}-day ÷ {SHORT_TICK_HISTORY_DAYS}-day history", "×",
                                     [lo["wall_seconds"] / sh["wall_seconds"]
                                      for lo, sh in zip(ticks_long, ticks_short, strict=True)]),
        "code_location_load": Figure("Code location load in a fresh process", "s", code_loads),
        "dbt_invocation": Figure("One dbt invocation, empty hour (start-up + fixed cost)", "s", dbt_calls),
        "ingest_rows_per_second": Figure("Ingest into raw", "rows/s", [i["rows_per_second"] for i in ingests]),
        "ingest_seconds": Figure("Ingest wall time", "s", [i["seconds"] for i in ingests]),
        "ingest_floor_rows_per_second": Figure("Floor: INSERT … SELECT of the same rows", "rows/s",
                                               [f["extract_rows_per_second"] for f in floors]),
        "backfill_peak_rss": Figure("Backfill process peak RSS", "MB", [b["peak_rss_mb"] for b in backfills]),
        "backfill_peak_rss_dbt": Figure("Largest dbt child peak RSS", "MB",
                                        [b["peak_rss_children_mb"] for b in backfills]),
    }
    _log("extra figures")
    figures.update(extra_figures(BenchContext(url=url, scale=sc.name, repeat=sc.repeat, workdir=workdir)))
    demo_details = {}
    if sc.name == "full":
        _log("demo stages and install")
        demo, demo_details = demo_figures(sc.name, workdir, install=True)
        figures.update(demo)

    results = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": asdict(sc),
        "machine": machine,
        "data": {"history_days": sc.days, "window": [start.isoformat(), end.isoformat()],
                 "usage_rows": usage_rows, "source_rows": int(sum(simulated["rows"].values())),
                 "simulate_seconds": simulated["seconds"], "ingest_rows": ingests[0]["rows"]},
        "figures": {k: summarise(f) for k, f in figures.items()},
        "details": {"backfills": backfills, "floors": floors, "floor_check": floor_check,
                    "ticks_short": ticks_short, "ticks_long": ticks_long, **demo_details},
        "notes": [],
    }
    return results


def run_demo_only(sc: Scale, previous: dict | None) -> dict:
    """The demo's figures alone, merged into the scale's previous results (the other figures kept)."""
    workdir = WORK / f"{sc.name}-demo"
    shutil.rmtree(workdir, ignore_errors=True)
    _log(f"demo stages at scale {sc.name}" + (" and install" if sc.name == "full" else ""))
    figures, details = demo_figures(sc.name, workdir, install=sc.name == "full")
    machine = describe(os.environ["WAREHOUSE_URL"])  # the demo's database: the machine it ran on
    results = previous or {"scale": asdict(sc), "figures": {}, "details": {}, "notes": [], "machine": machine,
                           "generated_at": datetime.now(UTC).isoformat(timespec="seconds")}
    details["demo_machine"] = machine  # the other figures keep the machine and date of their own run
    results["figures"].update({k: summarise(f) for k, f in figures.items()})
    results["details"].update(details)
    return results


def paths(scale_name: str, out_dir: Path | None) -> tuple[Path, Path]:
    """Where the scale's results JSON and BENCHMARKS.md go (see the module doc)."""
    if out_dir is None:
        full = scale_name == "full"
        json_path = PROJECT_ROOT / "bench" / "results.json" if full else WORK / f"results-{scale_name}.json"
        md_path = PROJECT_ROOT / "BENCHMARKS.md" if full else WORK / f"BENCHMARKS-{scale_name}.md"
        return json_path, md_path
    return out_dir / f"results-{scale_name}.json", out_dir / f"BENCHMARKS-{scale_name}.md"


def write(results: dict, scale_name: str, out_dir: Path | None, only_demo: bool = False) -> tuple[Path, Path]:
    json_path, md_path = paths(scale_name, out_dir)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    results["results_file"] = str(json_path.relative_to(PROJECT_ROOT)) if json_path.is_relative_to(
        PROJECT_ROOT) else str(json_path)
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    if only_demo and md_path.exists():  # the other sections (hand-written ones too) stay as they are
        md_path.write_text(splice_section(md_path.read_text(), DEMO_SECTION, section(DEMO_SECTION, results["figures"])))
    else:
        md_path.write_text(markdown(results))
    return json_path, md_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small", help="small (CI smoke test), medium or full")
    parser.add_argument("--out-dir", type=Path, default=None,
                        help="where results-<scale>.json and BENCHMARKS-<scale>.md go (default: see module doc)")
    parser.add_argument("--only", choices=["demo"], default=None,
                        help="measure only these figures and merge them into the scale's existing results")
    args = parser.parse_args(argv)
    sc = scale(args.scale)
    if args.only == "demo":
        json_path, _ = paths(sc.name, args.out_dir)
        previous = json.loads(json_path.read_text()) if json_path.exists() else None
        results = run_demo_only(sc, previous)
    else:
        results = run(sc)
    json_path, md_path = write(results, sc.name, args.out_dir, only_demo=args.only == "demo")
    _log(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
