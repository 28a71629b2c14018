"""Operator alerts: one e-mail per incident through the report SMTP path (aiosmtpd on 127.0.0.1),
and the run-failure sensor on a real failed Dagster run. Needs only a migrated warehouse.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from orchestration.defs.alerts import alert_run_failure, operator_alert_on_run_failure, run_incident
from reports.alerts import AlertDeliveryError, send_operator_alert
from tests.conftest import reset_warehouse
from tests.smtp_server import LocalSmtpServer


@pytest.fixture(scope="module")
def warehouse(warehouse_url: str) -> str:
    reset_warehouse(warehouse_url)
    return warehouse_url


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("OPERATOR_EMAIL", "operator@example.test")
    for name in ("SMTP_HOST", "SMTP_USER", "SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture()
def smtp(env):
    with LocalSmtpServer() as server:
        for name, value in server.env().items():
            env.setenv(name, value)
        yield server


def incident(url: str, key: str) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT status, occurrences, recipient, smtp_code, smtp_reply FROM reports.alert_incidents"
                            " WHERE incident_key = %s", (key,)).fetchone()


def test_one_email_per_incident_however_often_it_is_reported(warehouse, smtp):
    outcomes = [send_operator_alert(warehouse, "test:repeated", "Snapshot stale", "raw is 3 hours old")
                for _ in range(3)]
    assert outcomes == ["sent", "already_alerted", "already_alerted"]
    assert len(smtp.messages) == 1
    recipients, message = smtp.messages[0]
    assert recipients == ["operator@example.test"]
    assert message["Subject"] == "[usage-analytics] Snapshot stale"
    assert "raw is 3 hours old" in message.get_body(("plain",)).get_content()
    assert "raw is 3 hours old" in message.get_body(("html",)).get_content()
    assert incident(warehouse, "test:repeated")[:2] == ("sent", 3)
    assert send_operator_alert(warehouse, "test:another", "Other incident", "body") == "sent"
    assert len(smtp.messages) == 2


def test_without_operator_address_the_incident_waits_for_one(warehouse, smtp, env):
    env.delenv("OPERATOR_EMAIL")
    assert send_operator_alert(warehouse, "test:unaddressed", "Run failed", "x") == "unaddressed"
    assert smtp.messages == []
    env.setenv("OPERATOR_EMAIL", "operator@example.test")
    assert send_operator_alert(warehouse, "test:unaddressed", "Run failed", "x") == "sent"
    assert send_operator_alert(warehouse, "test:unaddressed", "Run failed", "x") == "already_alerted"
    assert len(smtp.messages) == 1


def test_a_refused_alert_fails_loudly_and_the_next_report_retries(warehouse, smtp):
    smtp.script.rcpt_reply = "554 5.7.1 Relay access denied"
    with pytest.raises(AlertDeliveryError, match="554 5.7.1 Relay access denied"):
        send_operator_alert(warehouse, "test:refused", "Run failed", "x")
    assert incident(warehouse, "test:refused")[0::3] == ("failed", 554)
    smtp.script.rcpt_reply = None
    smtp.script.drop_connections = 1  # and the network drops once: retried, still one mail
    assert send_operator_alert(warehouse, "test:refused", "Run failed", "x") == "sent"
    assert len(smtp.messages) == 1


def test_outbox_without_smtp_host(warehouse, env, tmp_path):
    assert send_operator_alert(warehouse, "test:outbox", "Check failed", "rows 1, 2") == "outbox"
    files = list((tmp_path / "artifacts" / "outbox").glob("alert_*.eml"))
    assert len(files) == 1
    message = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["To"] == "operator@example.test" and message["X-Incident-Key"] == "test:outbox"
    assert send_operator_alert(warehouse, "test:outbox", "Check failed", "rows 1, 2") == "already_alerted"
    assert len(list((tmp_path / "artifacts" / "outbox").glob("*.eml"))) == 1


@dg.op
def fails_loudly():
    raise RuntimeError("the source database is unreachable")


@dg.job
def flaky_job():
    fails_loudly()


def test_run_failure_sensor_mails_once_per_run_and_its_retries(warehouse, smtp, dagster_instance):
    result = flaky_job.execute_in_process(instance=dagster_instance, raise_on_error=False)
    assert not result.success
    run = dagster_instance.get_run_by_id(result.run_id)
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    context = dg.build_run_status_sensor_context(
        sensor_name="operator_alert_on_run_failure", dagster_event=failure, dagster_instance=dagster_instance,
        dagster_run=run).for_run_failure()
    operator_alert_on_run_failure(context)
    operator_alert_on_run_failure(context)
    assert len(smtp.messages) == 1
    message = smtp.messages[0][1]
    assert message["Subject"] == "[usage-analytics] Run of flaky_job failed"
    body = message.get_body(("plain",)).get_content()
    assert "Step fails_loudly failed" in body and "the source database is unreachable" in body
    assert result.run_id in body

    # a re-execution of that run (same root) is the same incident: counted, not mailed
    retry = dg.DagsterRun(job_name="flaky_job", run_id="retry-of-" + run.run_id, root_run_id=run.run_id,
                          parent_run_id=run.run_id)
    step_failures = list(context.get_step_failure_events())
    assert run_incident(retry, step_failures, None)[0] == f"run-failure:flaky_job:{run.run_id}"
    assert alert_run_failure(dagster_instance, retry, step_failures, None, warehouse) == ["already_alerted"]
    assert len(smtp.messages) == 1
    assert incident(warehouse, f"run-failure:flaky_job:{run.run_id}")[:2] == ("sent", 3)
