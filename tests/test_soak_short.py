"""The short soak (issue 12): three simulated days across a month boundary, on a small world, driven
by the real schedules, automation and run-failure sensor, with a killed run, a misbehaving mail
server and an account name holding CR/LF; its end-of-run assertions must all hold.

The daemon wakes every 12 simulated hours here (hour by hour costs ~1 minute of wall time per
simulated hour on a loaded 2-core machine; `make soak` runs hour by hour). The soak gets its own
databases, named after this session's test database.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest

from tests.conftest import TEST_DATABASE, _server_url

pytestmark = pytest.mark.xfail(
    reason="waits on issue 12 fixes not landed when this test was written: automation that rebuilds the monthly "
           "rollups at month end (item 1), and ML assets failing on the soak's small world; see summary.failures",
    strict=False,
)


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

    summary = run(days=3, accounts=24, history_days=4, seed=12, end=datetime(2026, 11, 2, 6, tzinfo=UTC),
                  out_dir=tmp_path, wake_hours=12)
    summary.write(tmp_path / "summary.json")
    print(json.dumps({k: v for k, v in json.loads((tmp_path / "summary.json").read_text()).items()
                      if k not in ("drift_by_mart", "delivery_details")}, indent=1))

    assert summary.ticks >= 6 and summary.runs > summary.ticks
    assert {f["kind"] for f in summary.faults_injected if f["injected_at"]} == {
        "crlf_account", "kill_run", "smtp_4xx", "smtp_drops", "smtp_down"}
    assert summary.deliveries > 0
    assert summary.failures == [], summary.failures
