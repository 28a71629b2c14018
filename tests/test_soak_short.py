"""The short soak (issue 12): three simulated days across a month boundary, on a small world, driven
by the real schedules, automation and run-failure sensor, with a killed run, a misbehaving mail
server and an account name holding CR/LF; its end-of-run assertions must all hold.

The daemon wakes once a simulated day here, at 04:00 before the report schedules (hour by hour
costs 15-90 s of wall time per simulated hour on 2 cores; `make soak` runs hour by hour). The soak gets its own
databases, named after this session's test database.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest

from tests.conftest import TEST_DATABASE, _server_url


@pytest.fixture()
def soak_environment():
    """The soak points this process at its own databases, instance and mail server: undone afterwards."""
    from orchestration.warehouse.connection import warehouse_url

    saved = dict(os.environ)
    os.environ["SOAK_SERVER_URL"] = _server_url()
    os.environ["SOAK_DATABASE"] = f"{TEST_DATABASE}_soak"
    yield
    os.environ.clear()
    os.environ.update(saved)
    warehouse_url.cache_clear()


def test_short_soak_holds_every_end_of_run_assertion(tmp_path, soak_environment):
    from soak.run import run

    summary = run(days=3, accounts=20, seed=12, end=datetime(2026, 11, 2, 6, tzinfo=UTC),
                  out_dir=tmp_path, wake_hours=24)
    summary.write(tmp_path / "summary.json")
    print(json.dumps({k: v for k, v in json.loads((tmp_path / "summary.json").read_text()).items()
                      if k not in ("drift_by_mart", "delivery_details")}, indent=1))

    assert summary.ticks == 3 and summary.runs > summary.ticks
    assert {f["kind"] for f in summary.faults_injected if f["injected_at"]} == {
        "crlf_account", "kill_run", "smtp_4xx", "smtp_drops", "smtp_down"}
    assert summary.deliveries > 0
    assert summary.failures == [], summary.failures


def test_cron_ticks_match_the_daemons_minutes():
    from soak.cron import cron_fires, minutes_with_ticks

    monday = datetime(2026, 11, 2, 4, 40, tzinfo=UTC)
    assert cron_fires("40 4 * * 1", monday) and not cron_fires("40 4 * * 1", monday.replace(day=3))
    assert cron_fires("50 4 1 * *", datetime(2026, 11, 1, 4, 50, tzinfo=UTC))
    assert not cron_fires("50 4 1 * *", datetime(2026, 11, 2, 4, 50, tzinfo=UTC))
    assert cron_fires("5 * * * *", monday.replace(hour=13, minute=5))
    assert cron_fires("30 4-23 * * *", monday.replace(hour=23, minute=30))
    assert not cron_fires("30 4-23 * * *", monday.replace(hour=3, minute=30))
    assert minutes_with_ticks(["5 * * * *", "30 4 * * *", "15,45 * * * *"]) == [5, 15, 30, 45]


def test_wakes_always_include_the_report_hour():
    from soak.run import default_end, history_start, wakes

    start = datetime(2026, 10, 30, 6, tzinfo=UTC)
    daily = wakes(start, start.replace(day=31, hour=23), 24)
    assert daily == [datetime(2026, 10, 31, 4, tzinfo=UTC)]
    assert len(wakes(start, start.replace(hour=17), 1)) == 12
    assert default_end(datetime(2026, 12, 2, 5, tzinfo=UTC)) == datetime(2026, 11, 2, 6, tzinfo=UTC)
    assert default_end(datetime(2026, 12, 5, tzinfo=UTC)) == datetime(2026, 12, 2, 6, tzinfo=UTC)
    assert history_start(start) == datetime(2026, 10, 1, tzinfo=UTC)
    assert history_start(datetime(2026, 11, 1, 6, tzinfo=UTC)) == datetime(2026, 10, 1, tzinfo=UTC)
