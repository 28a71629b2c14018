"""The operator commands through `orchestration.cli.main`: output, progress and exit codes."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from orchestration.cli import main
from orchestration.progress import render
from tests.conftest import reset_warehouse
from tests.handmade_source import add_session, seed_accounts


@pytest.fixture(scope="module")
def loaded(warehouse_url: str, tmp_path_factory):
    """Two accounts with a session each, snapshotted for 2026-03-10 01:00-03:00 (no Dagster)."""
    from orchestration.snapshots.run import snapshot_window

    reset_warehouse(warehouse_url)
    with psycopg.connect(warehouse_url) as conn:
        seed_accounts(conn, signup="2026-03-10 00:00+00")
        add_session(conn, 1, 1, "2026-03-10 01:10+00", "2026-03-10 01:20+00")
        add_session(conn, 2, 2, "2026-03-10 02:10+00", "2026-03-10 02:20+00")
        conn.commit()
    snapshot_window(warehouse_url, warehouse_url, datetime(2026, 3, 10, tzinfo=UTC),
                    datetime(2026, 3, 10, 3, tzinfo=UTC))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(tmp_path_factory.mktemp("dagster_home")))
        patch.setenv("ARTIFACTS_DIR", str(tmp_path_factory.mktemp("artifacts")))
        yield


def test_progress_bar_text():
    assert render(0, 4, "layers") == "[------------------------------] 0/4  layers"
    assert render(3, 4) == "[######################--------] 3/4"
    assert render(12, 12).startswith("[" + "#" * 30 + "] 12/12")


def test_erase_prints_what_it_removed_and_a_second_erase_nothing(loaded, db, capsys):
    assert main(["erase", "--account", "1"]) == 0
    out = capsys.readouterr().out
    assert "account 1 erased: 2 rows" in out  # its account row and its session
    assert "raw.accounts" in out and "raw.sessions" in out
    assert main(["erase", "--account", "1"]) == 0
    assert "nothing left to remove" in capsys.readouterr().out
    assert db.execute("SELECT count(*) FROM raw.accounts").fetchone()[0] == 1


def test_bad_input_is_named_and_exits_non_zero(loaded, tmp_path, capsys):
    assert main(["erase", "--account", "acme"]) == 2
    assert "--account 'acme'" in capsys.readouterr().err
    assert main(["retention", "--days", "0"]) == 2
    assert "--days 0" in capsys.readouterr().err
    assert main(["bulk", "erase", "--accounts-file", str(tmp_path / "missing.txt")]) == 2
    assert "missing.txt" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["bulk", "reset_usage", "--accounts", "2"])
    assert exit_info.value.code == 2 and "'reset_usage'" in capsys.readouterr().err
    assert main(["backfill", "--from", "2026-03-10T05:00Z", "--to", "2026-03-10T02:00Z"]) == 2
    assert "--from 2026-03-10T05:00:00+00:00 must be before" in capsys.readouterr().err


def test_retention_reports_the_policy(loaded, capsys):
    assert main(["purge", "--days", "1"]) == 0
    out = capsys.readouterr().out
    # the snapshotted day is due but has no daily rollup here: held back, nothing removed
    assert "retention 1 days" in out and "1 held back (not rolled up yet), 0 rows removed" in out


def test_bulk_shows_progress_and_names_the_failed_account(loaded, db, tmp_path, capsys):
    ids = tmp_path / "accounts.txt"
    ids.write_text("2  # Beta\nx9\n3\n")
    assert main(["bulk", "erase", "--accounts-file", str(ids), "--progress-every", "1"]) == 1
    captured = capsys.readouterr()
    assert "succeeded, 1 failed" in captured.out and "2 succeeded" in captured.out
    assert "account 'x9': ValueError: account id 'x9' is not an integer" in captured.err
    assert "[" + "#" * 30 + "] 3/3  accounts, 1 failed" in captured.err  # not a terminal: one line per step
    assert db.execute("SELECT count(*) FROM raw.accounts").fetchone()[0] == 0


def test_backfill_shows_a_progress_bar_per_layer(loaded, capsys, monkeypatch, tmp_path):
    """Layer lines and the bar reach the terminal; dbt's per-model lines go to the log file instead."""
    from orchestration.settings import get_settings

    monkeypatch.setenv("LOCAL_DIR", str(tmp_path))
    assert main(["backfill", "--from", "2026-03-10T01:00Z", "--to", "2026-03-10T03:00Z"]) == 0
    captured = capsys.readouterr()
    assert "hourly_snapshot_job" in captured.out and "dimensions_job" in captured.out
    assert "] 1/4  layers done (hourly_snapshot_job ok)" in captured.err
    assert "] 4/4  layers done (dimensions_job ok)" in captured.err
    dbt_log = get_settings().local_dir / "logs" / "dbt.log"
    assert "Running with dbt=" not in captured.out + captured.err
    assert f"dbt's output goes to {dbt_log}" in captured.out
    assert "Running with dbt=" in dbt_log.read_text() and "fct_usage_hourly" in dbt_log.read_text()


def test_help_names_report_ids_and_time_format(capsys):
    """An operator learns the report ids and the --from/--to format from --help alone."""
    from reports.catalogue import load_catalogue

    with pytest.raises(SystemExit):
        main(["report", "--help"])
    report_help = " ".join(capsys.readouterr().out.split())
    assert all(report_id in report_help for report_id in load_catalogue())
    with pytest.raises(SystemExit):
        main(["backfill", "--help"])
    backfill_help = " ".join(capsys.readouterr().out.split())
    assert "ISO 8601" in backfill_help and "2026-03-01T00:00Z" in backfill_help
    with pytest.raises(SystemExit):
        main(["backfill", "--from", "yesterday", "--to", "now"])
    assert "'yesterday' is not a time: expected ISO 8601" in capsys.readouterr().err


def test_cli_instance_defaults_to_the_ui_instance():
    """Without DAGSTER_HOME the CLI records runs where `make ui` looks, instead of crashing."""
    from orchestration import cli

    assert cli.default_dagster_home().parts[-2:] == (".local", "dagster")
