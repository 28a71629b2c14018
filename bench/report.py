"""results.json → BENCHMARKS.md: one table per figure (median, min–max, runs), goals, the machine."""

from __future__ import annotations

import statistics

from bench.hooks import Figure

# figure id -> (goal text, test on the median)
GOALS = {
    "backfill_ratio": ("≤ 3× the plain-SQL floor", lambda m: m <= 3),
    "tick_history_ratio": ("90-day tick ≤ 1.2× the 1-day tick", lambda m: m <= 1.2),
    "ingest_rows_per_second": ("≥ 500k rows/s", lambda m: m >= 500_000),
    "demo_total": ("`make demo` to a browsable UI ≤ 5 min", lambda m: m <= 300),
    "install_cached": ("virtualenv install ≤ 3 min from wheels", lambda m: m <= 180),
}
DEMO_SECTION = "Demo stages"

# sections of BENCHMARKS.md: (title, explanation, figure ids)
SECTIONS = [
    ("Backfill: Dagster vs the plain-SQL floor",
     "All hourly snapshots and the hourly/daily/monthly usage rollups of the history, through Dagster "
     "(`orchestration.pipeline.run_layers`: one single-run backfill per layer, in its own process, into an "
     "empty warehouse; a fresh Dagster instance configured as `make` configures one: PostgreSQL storage on "
     "the same server, batched event writes, see orchestration/dagster_instance.py), next to "
     "`bench/floor.sql` doing the same extraction and aggregations in one psql-like session. The "
     "unpartitioned marts (dimensions, business marts) are built by the same backfill but have no floor: "
     "listed apart, not in the ratio.",
     ["backfill_dagster", "backfill_floor", "backfill_ratio", "backfill_layer_hourly", "backfill_layer_daily",
      "backfill_layer_monthly", "backfill_dimensions", "backfill_process_wall"]),
    ("Hourly tick: short vs long history",
     "The run the hourly schedule requests (snapshot of the new hour plus any hour with late rows in the "
     "look-back, fct_usage_hourly and its checks), in process with the definitions loaded. Overhead = wall − "
     "extraction SQL − dbt's own model/test time: Dagster orchestration and event-log writes plus the dbt "
     "process start-up. A scheduled run launched in its own process also pays the code-location load.",
     ["tick_short_wall", "tick_short_snapshot_sql", "tick_short_dbt_sql", "tick_short_overhead",
      "tick_long_wall", "tick_long_snapshot_sql", "tick_long_dbt_sql", "tick_long_overhead",
      "tick_history_ratio", "code_location_load", "dbt_invocation"]),
    ("Ingest into raw",
     "The platform's extraction (`snapshot_window`: COPY out of the source, classify, replace the windows "
     "of every raw table in one transaction) over the whole history into emptied raw tables; rows = source "
     "rows loaded or "
     "quarantined. The floor's extract step (plain INSERT … SELECT within the database, no classification) "
     "is shown for scale; the platform's source may be another server, so it must COPY across connections.",
     ["ingest_rows_per_second", "ingest_seconds", "ingest_floor_rows_per_second"]),
    (DEMO_SECTION,
     "`usage-analytics demo` (what `make demo` runs after the bootstrap) on its own databases, a first run at "
     "the demo's default size at scale full (2,000 accounts, 90 days; per-account summaries for its default "
     "sample of 20 accounts), one run: each stage's time as the demo itself prints and records it "
     "(orchestration/demo_stages.py). The total excludes the code load (in the process wall); the UI, which "
     "`make demo` starts first, serves from its own process. Install: the Makefile's bootstrap "
     "(`python -m venv`, pip upgrade, `pip install -e '.[dev]'`) into a temporary folder, first with downloads, "
     "then from pip's cache. \"Demo CPU\" is the CPU time of the demo's process and its children (dbt, render "
     "workers) per stage, PostgreSQL's excluded: on a machine shared with other work, what the demo itself "
     "spent. `make bench ONLY=demo` reruns this section alone.",
     ["demo_simulate", "demo_snapshots", "demo_rollups", "demo_marts", "demo_models", "demo_reports",
      "demo_total", "demo_process_wall", "demo_cpu_simulate", "demo_cpu_snapshots", "demo_cpu_rollups",
      "demo_cpu_marts", "demo_cpu_models", "demo_cpu_reports", "install_first", "install_cached"]),
    ("Memory",
     "Peak RSS of the backfill process (Python: Dagster + extraction) and of its largest child (a dbt "
     "process). Compare across scales: it must not grow with the number of events.",
     ["backfill_peak_rss", "backfill_peak_rss_dbt"]),
]


def summarise(figure: Figure) -> dict:
    runs = [float(r) for r in figure.runs]
    median = statistics.median(runs) if runs else None
    out = {"title": figure.title, "unit": figure.unit, "runs": runs, "median": median,
           "min": min(runs) if runs else None, "max": max(runs) if runs else None,
           "goal": figure.goal, "notes": figure.notes}
    return out


def goal_status(figure_id: str, summary: dict) -> tuple[str, bool | None]:
    if figure_id not in GOALS or summary["median"] is None:
        return summary.get("goal") or "", None
    text, test = GOALS[figure_id]
    return text, bool(test(summary["median"]))


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "rows/s":
        return f"{value:,.0f}"
    if unit == "MB":
        return f"{value:,.0f}"
    if unit == "×":
        return f"{value:.2f}"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _table(ids: list[str], figures: dict) -> list[str]:
    lines = ["| figure | median | min – max | runs | unit | goal |", "| --- | ---: | ---: | ---: | --- | --- |"]
    for figure_id in ids:
        if figure_id not in figures:
            continue
        f = figures[figure_id]
        goal, met = goal_status(figure_id, f)
        verdict = "" if met is None else (" — met" if met else " — **not met**")
        lines.append(f"| {f['title']} | {_fmt(f['median'], f['unit'])} | {_fmt(f['min'], f['unit'])} – "
                     f"{_fmt(f['max'], f['unit'])} | {len(f['runs'])} | {f['unit']} | {goal}{verdict} |")
    return lines


def section(title: str, figures: dict) -> list[str]:
    """One section of BENCHMARKS.md: its heading, explanation and table."""
    text, ids = next((text, ids) for t, text, ids in SECTIONS if t == title)
    notes = [f"- {figures[i]['title']}: {note}" for i in ids if i in figures for note in figures[i].get("notes") or []]
    return [f"## {title}", "", text, "", *_table(ids, figures), "", *([*notes, ""] if notes else [])]


def splice_section(markdown_text: str, title: str, lines: list[str], before: str = "## Memory\n") -> str:
    """`markdown_text` with section `title` replaced by `lines`, or inserted before the heading
    `before` (at the end without it): one section measured again, the rest of the file (hand-written
    sections included) kept as it is."""
    heading, block = f"## {title}\n", "\n".join(lines) + "\n"
    if heading in markdown_text:
        start = markdown_text.index(heading)
        end = markdown_text.find("\n## ", start + len(heading))
        return markdown_text[:start] + block + (markdown_text[end + 1:] if end >= 0 else "")
    at = markdown_text.find(before)
    if at < 0:
        return markdown_text.rstrip("\n") + "\n\n" + block
    return markdown_text[:at] + block + markdown_text[at:]


def demo_only_markdown(results: dict) -> str:
    """BENCHMARKS.md for a results file that holds only the demo's figures (`--only demo` before any
    full run of the scale): the machine and the demo section."""
    lines = ["# Benchmarks", "", f"Generated by `make bench SCALE={results['scale']['name']} ONLY=demo` at "
             f"{results['generated_at']}; the other sections need a full `make bench` run.", "",
             "## Machine", "", "| | |", "| --- | --- |",
             *[f"| {key} | {value} |" for key, value in results["machine"].items()], ""]
    return "\n".join(lines + section(DEMO_SECTION, results["figures"]))


def markdown(results: dict) -> str:
    if "data" not in results:
        return demo_only_markdown(results)
    scale, machine, data, figures = results["scale"], results["machine"], results["data"], results["figures"]
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench SCALE={scale['name']}` (`bench/run.py`) at {results['generated_at']}; "
        f"machine-readable: `{results['results_file']}`. Scale **{scale['name']}**: {scale['accounts']:,} "
        f"accounts, {data['history_days']} days of history ({data['window'][0]} to {data['window'][1]}), "
        f"{data['usage_rows']:,} usage rows (sessions + usage events + storage readings), "
        f"{data['source_rows']:,} source rows in all; every figure is the median of {scale['repeat']} runs "
        f"(ticks: {scale['tick_repeat']}).",
        "",
    ]
    if scale["name"] != "full":
        lines += [f"> **Not the full-scale figures.** This file was written at scale `{scale['name']}`; the "
                  "goals are stated for the full scale (`make bench SCALE=full` on a quiet machine).", ""]
    lines += ["## Machine", "", "| | |", "| --- | --- |"]
    lines += [f"| {key} | {value} |" for key, value in machine.items()]
    lines += ["", "## Goals", "", "| goal | median | met |", "| --- | ---: | --- |"]
    for figure_id, (text, _) in GOALS.items():
        if figure_id in figures:
            _, met = goal_status(figure_id, figures[figure_id])
            f = figures[figure_id]
            lines.append(f"| {text} | {_fmt(f['median'], f['unit'])} {f['unit']} | {'yes' if met else 'no'} |")
    lines += ["| backfill peak RSS flat in the number of events | see Memory, compare scales | – |", ""]
    for title, _, ids in SECTIONS:
        if any(figure_id in figures for figure_id in ids):
            lines += section(title, figures)
    extra = [k for k in figures if not any(k in ids for _, _, ids in SECTIONS)]
    if extra:
        lines += ["## More figures", "", *_table(extra, figures), ""]
    else:
        lines += ["## Reports", "", "Report render and delivery times are not measured yet: figures register "
                  "through `bench/hooks.py`.", ""]
    check = results["details"]["floor_check"]
    agree = all(v["equal"] for v in check.values())
    lines += ["## Notes", "",
              f"- Floor and platform {'agree' if agree else '**disagree**'} on row counts and totals of the "
              "hourly, daily and monthly usage tables (`details.floor_check` in the JSON).",
              "- Simulated without bad rows (so the floor, which does not quarantine, computes the same "
              "tables); late rows are on, so a tick may re-extract earlier hours (`details.ticks_*.hours`).",
              *[f"- {note}" for note in results.get("notes", [])], ""]
    return "\n".join(lines)
