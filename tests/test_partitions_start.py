"""Partitions start where the data starts: PARTITIONS_START, else the start the demo recorded.

The start is read from a setting or a file, never from the clock, so it does not move; the demo's
history begins on it (00:00 UTC on the 1st of a month), so a complete demo fills every partition.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime

import psycopg
import pytest

from orchestration.settings import PROJECT_ROOT, partitions_start, record_partitions_start
from tests.conftest import reset_warehouse


def test_the_setting_wins_then_the_recorded_start_then_the_fallback(tmp_path, monkeypatch):
    monkeypatch.delenv("PARTITIONS_START")
    assert partitions_start(tmp_path) == "2026-01-01"
    record_partitions_start(tmp_path, date(2026, 9, 1))
    assert partitions_start(tmp_path) == "2026-09-01"
    monkeypatch.setenv("PARTITIONS_START", "2026-03-01")
    assert partitions_start(tmp_path) == "2026-03-01"


def test_a_bad_start_names_where_it_came_from(tmp_path, monkeypatch):
    monkeypatch.setenv("PARTITIONS_START", "2026/03/01")
    with pytest.raises(ValueError, match="PARTITIONS_START must be a date"):
        partitions_start(tmp_path)
    monkeypatch.delenv("PARTITIONS_START")
    (tmp_path / "partitions_start").write_text("soon\n")
    with pytest.raises(ValueError, match=f"{tmp_path / 'partitions_start'} must be a date"):
        partitions_start(tmp_path)


def test_a_new_history_starts_on_the_first_of_the_month_days_back():
    from orchestration.demo_history import history_start

    now = datetime(2026, 12, 2, 10, 54, tzinfo=UTC)
    assert history_start(now, 90) == datetime(2026, 9, 1, tzinfo=UTC)  # 2026-09-03 is 90 days back
    assert history_start(now, 1) == datetime(2026, 12, 1, tzinfo=UTC)
    assert history_start(datetime(2026, 12, 1, 0, 30, tzinfo=UTC), 1) == datetime(2026, 11, 1, tzinfo=UTC)


def test_the_demo_records_a_new_start_and_keeps_it_while_it_appends(tmp_path, monkeypatch):
    from orchestration.demo_history import prepare_history

    monkeypatch.delenv("PARTITIONS_START")
    monkeypatch.setenv("LOCAL_DIR", str(tmp_path))
    first = datetime(2026, 12, 2, 10, tzinfo=UTC)
    # an earlier demo that recorded no start (before this setting existed) is simulated afresh
    assert prepare_history(first, 90, fresh=False) == (datetime(2026, 9, 1, tzinfo=UTC), True)
    assert (tmp_path / "partitions_start").read_text() == "2026-09-01\n"
    a_month_later = datetime(2027, 1, 2, 10, tzinfo=UTC)
    assert prepare_history(a_month_later, 90, fresh=False) == (datetime(2026, 9, 1, tzinfo=UTC), False)
    assert prepare_history(a_month_later, 90, fresh=True) == (datetime(2026, 10, 1, tzinfo=UTC), True)
    assert (tmp_path / "partitions_start").read_text() == "2026-10-01\n"


def test_a_configured_start_may_precede_the_demo_history_but_not_follow_it(tmp_path, monkeypatch):
    from orchestration.demo_history import prepare_history

    monkeypatch.setenv("LOCAL_DIR", str(tmp_path))
    now = datetime(2026, 12, 2, 10, tzinfo=UTC)
    monkeypatch.setenv("PARTITIONS_START", "2026-01-01")
    assert prepare_history(now, 90, fresh=True) == (datetime(2026, 9, 1, tzinfo=UTC), True)
    monkeypatch.setenv("PARTITIONS_START", "2026-09-02")
    with pytest.raises(ValueError, match=r"PARTITIONS_START=2026-09-02 is after the demo's history start "
                                         r"\(2026-09-01\)"):
        prepare_history(now, 90, fresh=True)


def test_every_partitions_definition_starts_on_the_recorded_start(tmp_path):
    record_partitions_start(tmp_path, date(2026, 9, 1))
    env = {k: v for k, v in os.environ.items() if k != "PARTITIONS_START"} | {"LOCAL_DIR": str(tmp_path)}
    code = ("from orchestration.defs.partitions import hourly_partitions, daily_partitions, monthly_partitions\n"
            "for p in (hourly_partitions, daily_partitions, monthly_partitions):\n"
            "    print(p.get_first_partition_key())\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=PROJECT_ROOT, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out == ["2026-09-01-00:00", "2026-09-01", "2026-09-01"]


def test_the_simulated_history_starts_on_the_start_and_reaches_now(warehouse_url):
    from orchestration.demo_history import simulate_demo_history
    from orchestration.source.simulator import apply_source_schema

    reset_warehouse(warehouse_url)
    start, now = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 4, 5, 30, tzinfo=UTC)
    with psycopg.connect(warehouse_url) as conn:
        apply_source_schema(conn)
        written = simulate_demo_history(conn, accounts=4, seed=3, start=start, now=now)
        conn.commit()
        state = conn.execute("SELECT history_start, horizon FROM app.simulation_state").fetchone()
        sessions = conn.execute("SELECT count(*), min(started_at) >= %s, max(recorded_at) <= %s "
                                "FROM app.sessions WHERE started_at >= %s", (start, now, start)).fetchone()
    assert state == (start, datetime(2026, 3, 4, 5, tzinfo=UTC))
    assert written["sessions"] == conn_count(warehouse_url, "app.sessions")
    assert sessions[0] > 0 and sessions[1] and sessions[2]


def conn_count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
