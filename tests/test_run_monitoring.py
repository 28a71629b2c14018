"""A run whose process is killed (-9) mid-run ends FAILURE and is alerted once (issue 12, reproduction 5).

The run executes in a child process, as `usage-analytics backfill` does (in-process, no launcher),
on an instance configured as `make` configures it (orchestration/dagster_instance.py, SQLite
storage here). The alert goes through the real run-failure sensor and SMTP (aiosmtpd).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from orchestration.dagster_instance import instance_yaml
from orchestration.defs.alerts import operator_alert_on_run_failure
from orchestration.defs.run_monitoring import dead_run_sensor, fail_dead_runs
from tests.conftest import reset_warehouse
from tests.smtp_server import LocalSmtpServer

CHILD_RUN = """
import sys, time
from pathlib import Path
import dagster as dg

@dg.op
def extract_slowly():
    Path(sys.argv[1]).touch()
    time.sleep(600)

@dg.job
def slow_backfill():
    extract_slowly()

slow_backfill.execute_in_process(instance=dg.DagsterInstance.get())
"""


@pytest.fixture()
def instance(tmp_path: Path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml())
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


@pytest.fixture()
def smtp(warehouse_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    reset_warehouse(warehouse_url)
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("OPERATOR_EMAIL", "operator@example.test")
    for name in ("SMTP_USER", "SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    with LocalSmtpServer() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        yield server


def start_run_in_child(instance: dg.DagsterInstance, marker: Path) -> subprocess.Popen:
    """A run executing in a child process, returned once its step is running."""
    child = subprocess.Popen([sys.executable, "-c", CHILD_RUN, str(marker)],
                             env={**os.environ, "DAGSTER_HOME": instance.root_directory})
    deadline = time.monotonic() + 180
    while not marker.exists():
        assert child.poll() is None, "the child run ended before its step started"
        assert time.monotonic() < deadline, "the child run did not start"
        time.sleep(0.2)
    return child


def test_killed_run_ends_failed_and_is_alerted_once(instance, smtp, warehouse_url, tmp_path):
    alerts = dg.build_sensor_context(instance=instance)
    cursor = operator_alert_on_run_failure.evaluate_tick(alerts).cursor  # the sensor's first tick

    child = start_run_in_child(instance, tmp_path / "step_started")
    (run,) = instance.get_runs()
    assert run.status == dg.DagsterRunStatus.STARTED
    assert fail_dead_runs(instance) == []  # alive: left alone
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED  # what issue 12 saw

    result = dead_run_sensor(dg.build_sensor_context(instance=instance))
    assert run.run_id in result.skip_message
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert fail_dead_runs(instance) == []  # once failed, never again

    for _ in range(2):  # the next sensor ticks: one alert, not one per tick
        cursor = operator_alert_on_run_failure.evaluate_tick(
            dg.build_sensor_context(instance=instance, cursor=cursor)).cursor
    with psycopg.connect(warehouse_url) as conn:
        incidents = conn.execute("SELECT incident_key, status, occurrences FROM reports.alert_incidents").fetchall()
    assert incidents == [(f"run-failure:slow_backfill:{run.run_id}", "sent", 1)]
    assert len(smtp.messages) == 1
    body = smtp.messages[0][1].get_body(("plain",)).get_content()
    assert f"(pid {child.pid}) is gone" in body
