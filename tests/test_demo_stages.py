"""The demo's stage clock and expected durations, the per-account report sample, the demo's options
and the bench's demo-only results file (no warehouse: all cheap)."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from orchestration.demo_stages import (
    REFERENCE_SECONDS,
    STAGE_IDS,
    StageClock,
    expected_seconds,
    format_duration,
)
from reports.catalogue import load_catalogue
from reports.sampling import parse_account_sample, sample_accounts


def test_expected_seconds_at_the_reference_size_are_the_reference():
    expected = expected_seconds(2000, 90)
    assert expected == {stage: fixed + variable for stage, (fixed, variable) in REFERENCE_SECONDS.items()}


def test_expected_seconds_scale_the_size_dependent_part_only():
    base, double_days = expected_seconds(2000, 90), expected_seconds(2000, 180)
    for stage in STAGE_IDS:
        fixed, variable = REFERENCE_SECONDS[stage]
        grows_with_days = stage in ("simulate", "snapshots", "rollups")
        assert double_days[stage] == pytest.approx(fixed + variable * (2 if grows_with_days else 1))
    tiny = expected_seconds(20, 2)
    assert all(tiny[stage] >= REFERENCE_SECONDS[stage][0] for stage in STAGE_IDS)
    assert sum(tiny.values()) < sum(base.values())


def test_format_duration():
    assert [format_duration(s) for s in (0.4, 42, 59.6, 60, 185, 3600)] == [
        "0 s", "42 s", "1 min 00 s", "1 min 00 s", "3 min 05 s", "60 min 00 s"]


def test_stage_clock_prints_each_stage_against_its_expectation_and_records_json(tmp_path):
    out = io.StringIO()
    clock = StageClock({stage: 10.0 for stage in STAGE_IDS}, out)
    clock.announce(first_run=True)
    assert out.getvalue().startswith("Expected duration: about 1 min 00 s on a quiet 2-core machine (simulate 10 s,")
    with clock.stage("simulate"):
        pass
    clock.add("rollups", 2.0)
    clock.add("rollups", 3.0)  # daily and monthly runs add up to one stage
    clock.report("rollups")
    assert "== rollups (daily and monthly rollups): 5 s (expected ~10 s; CPU " in out.getvalue()
    clock.write(tmp_path / "demo-stages.json", {"accounts": 3})
    written = json.loads((tmp_path / "demo-stages.json").read_text())
    assert written["params"] == {"accounts": 3} and written["stages"]["rollups"] == 5.0
    assert set(written["stages"]) == set(written["cpu_seconds"]) == {"simulate", "rollups"}
    assert all(cpu >= 0 for cpu in written["cpu_seconds"].values()) and written["total"] >= 0
    with pytest.raises(ValueError, match="unknown demo stage 'ml'"), clock.stage("ml"):
        pass


def test_a_second_run_announces_an_append():
    out = io.StringIO()
    StageClock(expected_seconds(2000, 90), out).announce(first_run=False)
    assert "only the hours since the last run are built" in out.getvalue()


def _usage_dataset(accounts: list[int]) -> dict[str, pd.DataFrame]:
    spec = load_catalogue()["usage_summary"]
    frames = {name: pd.DataFrame({"account_id": accounts, "value": range(len(accounts))}) for name in spec.inputs}
    frames["usage_daily"] = pd.DataFrame({"account_id": [a for a in accounts for _ in range(2)],
                                          "day": list(range(2)) * len(accounts)})
    return frames


def test_sample_spreads_over_the_audience_and_restricts_every_table():
    spec = load_catalogue()["usage_summary"]
    accounts = list(range(101, 111))  # 10 accounts, given out of order below
    dataset = _usage_dataset(list(reversed(accounts)))
    sampled, audience = sample_accounts(spec, dataset, 4)
    # evenly spaced positions 0, 3, 6, 9 of the sorted audience
    assert audience == 10
    assert sorted(sampled[spec.inputs[0]]["account_id"]) == [101, 104, 107, 110]
    assert sorted(sampled["usage_daily"]["account_id"]) == [101, 101, 104, 104, 107, 107, 110, 110]
    assert all(set(frame["account_id"]) == {101, 104, 107, 110} for frame in sampled.values())


def test_no_sample_or_a_large_one_keeps_the_dataset_and_internal_reports_are_never_sampled():
    catalogue = load_catalogue()
    spec = catalogue["usage_summary"]
    dataset = _usage_dataset([1, 2, 3])
    assert sample_accounts(spec, dataset, None) == (dataset, 3)
    assert sample_accounts(spec, dataset, 3) == (dataset, 3)
    internal = next(s for s in catalogue.values() if s.audience == "internal")
    frames = {"x": pd.DataFrame({"account_id": [1, 2, 3]})}
    assert sample_accounts(internal, frames, 1) == (frames, 1)


def test_sample_size_input_is_checked_and_named():
    assert parse_account_sample(None) is None and parse_account_sample(" All ") is None
    assert parse_account_sample("25") == 25
    for bad in ("0", "-3", "ten", "2.5"):
        with pytest.raises(ValueError, match="REPORT_ACCOUNT_SAMPLE must be a positive whole number"):
            parse_account_sample(bad)


def test_demo_options_are_documented_and_a_bad_sample_is_refused(capsys):
    from orchestration.cli import main

    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--ui" in help_text and "--verbose" in help_text and "--report-sample" in help_text
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--report-sample", "none"])
    assert exit_info.value.code == 2
    assert "--report-sample must be a positive whole number of accounts or 'all', got 'none'" in capsys.readouterr().err


def test_bench_writes_a_demo_only_results_file():
    from bench.hooks import Figure
    from bench.report import markdown, summarise

    figures = {"demo_simulate": Figure("Demo: simulate the source product", "s", [12.5]),
               "demo_total": Figure("Demo: total (code load excluded)", "s", [250.0])}
    results = {"generated_at": "2026-12-02T11:00:00+00:00", "scale": {"name": "small"},
               "machine": {"cores": 2}, "figures": {k: summarise(f) for k, f in figures.items()}}
    text = markdown(results)
    assert "## Demo stages" in text and "| cores | 2 |" in text
    assert "| Demo: simulate the source product | 12.5 | 12.5 – 12.5 | 1 | s |" in text
    assert "| Demo: total (code load excluded) | 250.0 |" in text


def test_times_relative_to_now_for_commands_that_stay_true():
    """README's `backfill --from now-48h --to now` works whatever the day it is pasted."""
    import argparse
    from datetime import UTC, datetime, timedelta

    from orchestration.cli import _parse_time

    before = datetime.now(UTC)
    assert before - timedelta(hours=48) <= _parse_time("now-48h") <= datetime.now(UTC) - timedelta(hours=48)
    assert before - timedelta(days=7) <= _parse_time("now-7d") <= datetime.now(UTC) - timedelta(days=7)
    for bad in ("now-", "now-2w", "now+3h"):
        with pytest.raises(argparse.ArgumentTypeError, match="is not a time: expected ISO 8601"):
            _parse_time(bad)


def test_demo_section_is_spliced_into_benchmarks_keeping_hand_written_sections():
    from bench.report import splice_section

    text = "# Benchmarks\n\n## Models (ml)\n\nhand-written\n\n## Memory\n\nrss\n"
    added = splice_section(text, "Demo stages", ["## Demo stages", "", "first", ""])
    assert added == "# Benchmarks\n\n## Models (ml)\n\nhand-written\n\n## Demo stages\n\nfirst\n\n## Memory\n\nrss\n"
    replaced = splice_section(added, "Demo stages", ["## Demo stages", "", "second", ""])
    assert replaced == added.replace("first", "second")
