"""Poison-proof delivery (issue 12): one recipient's bad data or refusal fails that recipient only.

Real aiosmtpd server, real migrated warehouse, real Dagster instance for the claims of dead runs.
The operator alert goes through the same server, so each test counts report mails and alert mails
apart. Every test uses its own period, so ledger rows and incidents never leak between tests.
"""

from __future__ import annotations

import dagster as dg
import psycopg
import pytest

from orchestration.dagster_internals import mark_run_failed
from orchestration.defs.report_delivery import run_is_dead, served_check
from reports.delivery import DeliveryError, deliver_report
from tests import test_delivery
from tests.handmade_source import load_raw_owners
from tests.smtp_server import LocalSmtpServer
from tests.test_delivery import ledger, record_artifacts, use_server

mail_env = test_delivery.mail_env  # the fixtures of the delivery tests, shared
pdf_bytes = test_delivery.pdf_bytes

OPERATOR = "operator@example.test"
BAD_EMAIL = "owner202@example.test\r\nBcc: victim@example.test"
OWNERS = {201: ("Evil\r\nBcc: victim@example.test\u2028X-Injected: 1", "owner201@example.test"),
          202: ("Fine Co", BAD_EMAIL),
          203: ("Globex", "owner203@example.test"),
          204: ("Refused Ltd", "owner204@example.test"),
          205: ("No At Ltd", "owner205 at example.test")}


@pytest.fixture(scope="module")
def warehouse(warehouse_url: str) -> str:
    load_raw_owners(warehouse_url, OWNERS)
    return warehouse_url


@pytest.fixture()
def server(mail_env):
    mail_env.setenv("OPERATOR_EMAIL", OPERATOR)
    with LocalSmtpServer() as smtp:
        use_server(mail_env, smtp)
        yield smtp


def reports_to(smtp: LocalSmtpServer) -> list[str]:
    return sorted(r for rcpts, _ in smtp.messages for r in rcpts if r != OPERATOR)


def alerts(smtp: LocalSmtpServer) -> list:
    return [m for rcpts, m in smtp.messages if rcpts == [OPERATOR]]


def last_error(url: str, period: str, recipient: str) -> str:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT last_error FROM reports.delivery_ledger WHERE report_id = 'usage_summary'"
                            " AND period = %s AND recipient = %s", (period, recipient)).fetchone()[0]


def test_bad_name_bad_address_and_a_550_fail_only_their_recipients_alert_once_and_reruns_retry_them(
        warehouse, server, tmp_path, pdf_bytes):
    period = "2026-04-01"
    record_artifacts(warehouse, tmp_path / "artifacts", "usage_summary", period, [201, 202, 203, 204, 205],
                     pdf_bytes)
    server.script.refused_recipients["owner204@example.test"] = "550 5.1.1 Mailbox unavailable"

    summary = deliver_report(warehouse, "usage_summary", period)
    assert (summary.sent, summary.recipients, summary.no_recipient) == (2, 5, 0)
    assert {(u.who, u.cause) for u in summary.undeliverable} == {("account 202", "invalid-address"),
                                                                 ("account 204", "refused-550"),
                                                                 ("account 205", "invalid-address")}
    assert reports_to(server) == ["owner201@example.test", "owner203@example.test"]
    # the CR/LF name is cleaned in the subject: no header injected, nobody else addressed
    message = next(m for rcpts, m in server.messages if rcpts == ["owner201@example.test"])
    assert message["Subject"].endswith("— Evil Bcc: victim@example.test X-Injected: 1")
    assert message["Bcc"] is None and message["X-Injected"] is None and message["To"] == "owner201@example.test"
    rows = ledger(warehouse, "usage_summary", period)
    assert rows[BAD_EMAIL][:2] == ("unsendable", 0)
    assert "control character" in last_error(warehouse, period, BAD_EMAIL)
    assert rows["owner204@example.test"] == ("refused", 1, 550, "5.1.1 Mailbox unavailable")
    # one alert naming both accounts by id, never by address
    [alert] = alerts(server)
    body = alert.get_body(("plain",)).get_content()
    assert "account 202: owner e-mail: the address contains a control character" in body
    assert "account 204: refused by the server: 550 5.1.1 Mailbox unavailable" in body
    assert "account 205: owner e-mail: not a valid e-mail address" in body
    # the sanitised name is bad source data: a warning line in the same e-mail, the name not quoted
    assert "account 201: its name holds control characters" in body and "Evil" not in body
    assert "owner202@" not in body and "owner204@" not in body and "owner205" not in body

    # a re-run with the same faults sends nothing new and alerts nobody again
    again = deliver_report(warehouse, "usage_summary", period)
    assert (again.sent, again.already_sent, len(again.undeliverable)) == (0, 2, 3)
    assert len(server.messages) == 3

    # once fixed, a re-run serves exactly the recipients that were not served
    server.script.refused_recipients.clear()
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("UPDATE raw.accounts SET owner_email = 'owner202@example.test' WHERE account_id = 202")
    try:
        fixed = deliver_report(warehouse, "usage_summary", period)
    finally:
        with psycopg.connect(warehouse, autocommit=True) as conn:
            conn.execute("UPDATE raw.accounts SET owner_email = %s WHERE account_id = 202", (BAD_EMAIL,))
    assert (fixed.sent, fixed.already_sent, [u.who for u in fixed.undeliverable]) == (2, 2, ["account 205"])
    assert reports_to(server) == [f"owner20{a}@example.test" for a in (1, 2, 3, 4)]
    assert len(alerts(server)) == 1
    check = served_check("usage_summary", again)
    assert not check.passed and "account 202" in check.description and check.metadata["undeliverable"].value == 3
    assert served_check("usage_summary", fixed).metadata["accounts"].value == [205]


def test_a_faltering_mail_server_is_alerted_once_per_period_though_everyone_was_served(
        warehouse, server, tmp_path, pdf_bytes):
    period = "2026-09-01"
    record_artifacts(warehouse, tmp_path / "artifacts", "usage_summary", period, [203], pdf_bytes)
    server.script.data_replies = ["451 4.3.0 Mailbox busy, try again"] * 2
    server.script.drop_connections = 1

    assert deliver_report(warehouse, "usage_summary", period).sent == 1
    assert reports_to(server) == ["owner203@example.test"]
    [alert] = alerts(server)
    assert alert["Subject"].endswith(f"usage_summary {period}: delivered, with warnings")
    body = alert.get_body(("plain",)).get_content()
    assert "1 message(s) went out only after retries" in body and "451 4.3.0 Mailbox busy, try again ×2" in body
    assert "owner203@" not in body
    # a re-run (nothing left to send) and a second delivery the server falters on again: no new alert
    server.script.data_replies = ["451 4.3.0 Mailbox busy, try again"]
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("DELETE FROM reports.delivery_ledger WHERE report_id = 'usage_summary' AND period = %s",
                     (period,))
    assert deliver_report(warehouse, "usage_summary", period).sent == 1
    assert len(alerts(server)) == 1


def test_a_message_over_the_size_limit_fails_that_recipient_only(warehouse, mail_env, server, tmp_path,
                                                                  pdf_bytes):
    period = "2026-05-01"
    record_artifacts(warehouse, tmp_path / "artifacts", "usage_summary", period, [201, 203], pdf_bytes)
    big = tmp_path / "artifacts" / "usage_summary_account-203_big.csv"
    big.write_bytes(b"x" * 300_000)
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("INSERT INTO reports.report_artifacts (report_id, period, account_id, format, path, bytes, sha256,"
                     " data_hash) VALUES ('usage_summary', %s, 203, 'xlsx', %s, 300000,"
                     " encode(sha256(%s), 'hex'), 'test')", (period, str(big), big.read_bytes()))
    mail_env.setenv("DELIVERY_MAX_MESSAGE_BYTES", "200000")  # far below the server's SIZE (32 MiB)
    summary = deliver_report(warehouse, "usage_summary", period)
    [undelivered] = summary.undeliverable
    assert (undelivered.who, undelivered.cause) == ("account 203", "too-large")
    assert "accepts at most 200,000" in undelivered.reason and "DELIVERY_MAX_MESSAGE_BYTES" in undelivered.reason
    assert reports_to(server) == ["owner201@example.test"] and len(alerts(server)) == 1
    assert ledger(warehouse, "usage_summary", period)["owner203@example.test"][:2] == ("unsendable", 0)


def test_a_message_over_the_servers_size_is_not_offered(warehouse, mail_env, tmp_path, pdf_bytes):
    period = "2026-06-01"
    record_artifacts(warehouse, tmp_path / "artifacts", "usage_summary", period, [203], pdf_bytes)
    mail_env.setenv("OPERATOR_EMAIL", OPERATOR)
    with LocalSmtpServer(data_size_limit=len(pdf_bytes) // 2) as smtp:  # announced as SIZE after EHLO
        use_server(mail_env, smtp)
        summary = deliver_report(warehouse, "usage_summary", period)
        assert [u.cause for u in summary.undeliverable] == ["too-large"]
        assert "the server (SIZE) accepts at most" in summary.undeliverable[0].reason
        assert reports_to(smtp) == [] and len(alerts(smtp)) == 1


def test_a_claim_held_by_a_dead_run_is_taken_over_at_once(warehouse, server, dagster_instance, tmp_path,
                                                          pdf_bytes):
    period = "2026-07-01"
    record_artifacts(warehouse, tmp_path / "artifacts", "usage_summary", period, [201, 203], pdf_bytes)

    @dg.op
    def deliver() -> None: ...

    @dg.job
    def delivery_job() -> None:
        deliver()

    run = dagster_instance.create_run_for_job(delivery_job, status=dg.DagsterRunStatus.STARTED)
    with psycopg.connect(warehouse, autocommit=True) as conn:  # the run claimed both and died mid-send
        for owner, run_id in (("owner201@example.test", run.run_id), ("owner203@example.test", "gone-run-id")):
            conn.execute("INSERT INTO reports.delivery_ledger (report_id, period, recipient, status, message_id,"
                         " claim_token, run_id, claimed_at) VALUES ('usage_summary', %s, %s, 'sending', '<x@test>',"
                         " 'dead', %s, now())", (period, owner, run_id))
    dead = run_is_dead(dagster_instance)
    # Dagster still sees the run as started: its claim waits for the lease; a run it never knew is over
    with pytest.raises(DeliveryError, match="another run is delivering") as failure:
        deliver_report(warehouse, "usage_summary", period, run_is_dead=dead)
    assert (failure.value.summary.sent, failure.value.summary.in_progress) == (1, 1)
    assert reports_to(server) == ["owner203@example.test"]

    mark_run_failed(dagster_instance, run, "its process died")  # run monitoring's verdict (run_monitoring.py)
    summary = deliver_report(warehouse, "usage_summary", period, run_is_dead=dead)
    assert (summary.sent, summary.already_sent) == (1, 1)
    assert reports_to(server) == ["owner201@example.test", "owner203@example.test"]
    assert deliver_report(warehouse, "usage_summary", period, run_is_dead=dead).already_sent == 2
    assert len(server.messages) == 2


def test_the_delivery_asset_succeeds_and_its_check_names_the_recipient_not_served(
        warehouse, server, dagster_instance, tmp_path, pdf_bytes):
    """Through Dagster: the run succeeds (no run-failure alert), the check fails, the operator is mailed once.

    The report gate's own tests (test_report_gate.py) run the input check for real; here its passing
    result is recorded through the instance API so that only delivery is under test.
    """
    from orchestration.defs.report_checks import CHECK_NAME
    from orchestration.defs.report_delivery import SERVED_CHECK, build_report_delivery
    from orchestration.defs.reports import report_input_key
    from orchestration.defs.resources import WarehouseResource
    from reports.catalogue import load_catalogue

    period = "2026-08-01"
    record_artifacts(warehouse, tmp_path / "artifacts", "usage_summary", period, [202, 203], pdf_bytes)
    input_key = report_input_key("usage_summary")
    dagster_instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=input_key, partition=period))
    dagster_instance.report_runless_asset_event(dg.AssetCheckEvaluation(
        asset_key=input_key, check_name=CHECK_NAME, passed=True, metadata={}, partition=period))
    asset = build_report_delivery(load_catalogue()["usage_summary"])
    for _ in range(2):  # a re-run meets the same bad address: still one alert, still a successful run
        result = dg.materialize([asset], partition_key=period, instance=dagster_instance,
                                resources={"warehouse": WarehouseResource()}, raise_on_error=False)
        assert result.success
        [check] = result.get_asset_check_evaluations()
        assert check.check_name == SERVED_CHECK and not check.passed
        assert check.description.startswith("account 202: owner e-mail: the address contains a control character")
    assert reports_to(server) == ["owner203@example.test"] and len(alerts(server)) == 1
