"""`make bench SCALE=small` end to end: the harness runs and writes well-formed results (no timing asserted).

It runs in a child process on its own database (`<TEST_DATABASE>_bench`), as `make bench` would, and
writes into a temporary directory, so the committed BENCHMARKS.md is never touched.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from orchestration.settings import PROJECT_ROOT

FIGURES = {"backfill_dagster", "backfill_floor", "backfill_ratio", "tick_short_wall", "tick_long_wall",
           "tick_long_overhead", "tick_history_ratio", "ingest_rows_per_second", "backfill_peak_rss",
           "code_location_load", "dbt_invocation"}


@pytest.fixture(scope="module")
def bench_output(tmp_path_factory) -> tuple[dict, str]:
    out_dir = tmp_path_factory.mktemp("bench")
    env = {**os.environ, "BENCH_DATABASE": f"{os.environ.get('TEST_DATABASE', 'uap_test')}_bench"}
    subprocess.run([sys.executable, "-m", "bench.run", "--scale", "small", "--out-dir", str(out_dir)],
                   cwd=PROJECT_ROOT, env=env, check=True, capture_output=True, text=True)
    results = json.loads((out_dir / "results-small.json").read_text())
    return results, (out_dir / "BENCHMARKS-small.md").read_text()


def test_every_figure_has_runs_and_a_median_within_its_range(bench_output):
    results, _ = bench_output
    assert set(results["figures"]) >= FIGURES
    for figure_id, figure in results["figures"].items():
        runs = figure["runs"]
        assert runs and all(math.isfinite(r) and r > 0 for r in runs), figure_id
        assert figure["min"] <= figure["median"] <= figure["max"], figure_id
    assert results["scale"]["name"] == "small" and results["machine"]["cores"] >= 1


def test_floor_and_platform_compute_the_same_tables(bench_output):
    results, _ = bench_output
    check = results["details"]["floor_check"]
    assert set(check) == {"hourly", "daily", "monthly"}
    assert all(grain["equal"] for grain in check.values()), check
    assert results["data"]["usage_rows"] > 0 and results["data"]["ingest_rows"] > 0


def test_ticks_break_out_their_overhead(bench_output):
    results, _ = bench_output
    for tick in results["details"]["ticks_short"] + results["details"]["ticks_long"]:
        parts = tick["snapshot_sql_seconds"] + tick["dbt_sql_seconds"] + tick["overhead_seconds"]
        assert parts == pytest.approx(tick["wall_seconds"]) and tick["dbt_sql_seconds"] > 0


def test_markdown_has_a_table_per_figure_and_the_machine(bench_output):
    results, markdown = bench_output
    for heading in ("## Machine", "## Goals", "## Backfill", "## Hourly tick", "## Ingest", "## Memory"):
        assert heading in markdown
    for figure in results["figures"].values():
        assert f"| {figure['title']} |" in markdown
    assert "Not the full-scale figures" in markdown


def test_report_delivery_figure_says_how_many_summaries_reached_the_smtp_server(bench_output):
    results, markdown = bench_output
    figures = results["figures"]
    total = figures["report_delivery_total"]
    audience = int(total["title"].split(" ", 1)[0].replace(",", ""))
    assert 0 < audience <= results["scale"]["accounts"]  # small scale: fewer than the goal's 1,000
    assert any(note.startswith(f"{audience:,} messages counted at an aiosmtpd server") for note in total["notes"])
    assert any(note.startswith(f"Only {audience:,} accounts at this scale") for note in total["notes"])
    parts = ("report_delivery_load", "report_delivery_gate", "report_delivery_render", "report_delivery_smtp")
    for run, *steps in zip(total["runs"], *(figures[p]["runs"] for p in parts), strict=True):
        assert sum(steps) == pytest.approx(run)
    assert "< 300 s" in markdown
