"""Report delivery against a real SMTP server (aiosmtpd on 127.0.0.1) and a real, migrated warehouse.

Artifacts are files this module writes and records in reports.report_artifacts the way rendering
does (absolute path + sha256), so delivery is exercised without rendering a simulated product.
Every test uses its own period, so ledger rows never leak between tests.
"""

from __future__ import annotations

import hashlib
from email import message_from_bytes, policy
from pathlib import Path

import psycopg
import pytest

from reports.delivery import DeliveryError, deliver_report
from tests.handmade_source import load_raw_owners
from tests.smtp_server import LocalSmtpServer

OWNERS = {101: ("Acme / \"Quoted\" Ünïcode", "owner101@example.test"),
          102: ("Globex", "owner102@example.test"),
          103: ("No Owner Ltd", None),
          104: ("Initech", "shared@example.test"),
          105: ("Initrode", "shared@example.test")}
INTERNAL = "finance@example.test, ceo@example.test"


@pytest.fixture(scope="module")
def warehouse(warehouse_url: str) -> str:
    load_raw_owners(warehouse_url, OWNERS)
    return warehouse_url


@pytest.fixture(scope="module")
def pdf_bytes() -> bytes:
    from weasyprint import HTML

    return HTML(string="<h1>Monthly usage summary</h1><p>audio minutes 1,234</p>").write_pdf()


@pytest.fixture()
def mail_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("REPORT_INTERNAL_RECIPIENTS", INTERNAL)
    for name in ("SMTP_HOST", "SMTP_USER", "SMTP_PASSWORD", "SMTP_CA_FILE", "OPERATOR_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def use_server(monkeypatch: pytest.MonkeyPatch, server: LocalSmtpServer) -> None:
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)


def record_artifacts(url: str, root: Path, report_id: str, period: str, accounts: list[int | None],
                     pdf: bytes) -> dict[int | None, dict[str, bytes]]:
    """Write pdf/csv/txt files per account and record them as rendering would; returns the bytes."""
    folder = root / report_id / period
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[int | None, dict[str, bytes]] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM reports.report_artifacts WHERE report_id = %s AND period = %s", (report_id, period))
        for account_id in accounts:
            slug = "platform" if account_id is None else f"account-{account_id}"
            stem = f"{report_id}_{slug}_{period.replace('-', '')}"
            files = {f"{stem}.pdf": pdf,
                     f"{stem}.csv": f"metric,value\nsessions,{account_id}\n".encode(),
                     f"{stem}.txt": f"Sessions: {account_id}\n".encode()}
            written[account_id] = files
            for name, content in files.items():
                (folder / name).write_bytes(content)
                conn.execute(
                    "INSERT INTO reports.report_artifacts (report_id, period, account_id, format, path, bytes,"
                    " sha256, data_hash) VALUES (%s, %s, %s, %s, %s, %s, %s, 'test')",
                    (report_id, period, account_id, name.rsplit(".", 1)[1], str(folder / name), len(content),
                     hashlib.sha256(content).hexdigest()))
    return written


def ledger(url: str, report_id: str, period: str) -> dict[str, tuple]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT recipient, status, attempts, smtp_code, smtp_reply FROM reports.delivery_ledger"
            " WHERE report_id = %s AND period = %s", (report_id, period)).fetchall()
    return {r[0]: r[1:] for r in rows}


def attachments(message) -> dict[str, bytes]:
    return {part.get_filename(): part.get_payload(decode=True) for part in message.iter_attachments()}


def test_each_owner_gets_their_files_once_and_reruns_send_nothing(warehouse, mail_env, tmp_path, pdf_bytes):
    written = record_artifacts(warehouse, tmp_path / "artifacts", "usage_summary", "2026-03-01",
                               [101, 102, 103], pdf_bytes)
    with LocalSmtpServer() as server:
        use_server(mail_env, server)
        summary = deliver_report(warehouse, "usage_summary", "2026-03-01")
        assert summary.counts() == {"sent": 2, "already_sent": 0, "outbox": 0, "undeliverable": 0, "failed": 0,
                                    "refused": 0, "in_progress": 0, "no_recipient": 1}
        received = {tuple(rcpts): msg for rcpts, msg in server.messages}
        assert set(received) == {("owner101@example.test",), ("owner102@example.test",)}
        for account_id in (101, 102):
            message = received[(OWNERS[account_id][1],)]
            assert attachments(message) == written[account_id]
            assert message["Subject"] == f"Monthly usage summary — March 2026 — {OWNERS[account_id][0]}"
            assert message.get_body(("plain",)).get_content().count(f"Sessions: {account_id}") == 1
            assert "<html" in message.get_body(("html",)).get_content()
        # the same period again (a re-run, a retry, a backfill): nothing new reaches the server
        again = deliver_report(warehouse, "usage_summary", "2026-03-01")
        assert (again.sent, again.already_sent) == (0, 2)
        assert len(server.messages) == 2
    assert {status for status, *_ in ledger(warehouse, "usage_summary", "2026-03-01").values()} == {"sent"}


def test_an_owner_of_two_accounts_gets_one_message_with_both_summaries(warehouse, mail_env, tmp_path, pdf_bytes):
    written = record_artifacts(warehouse, tmp_path / "artifacts", "usage_summary", "2025-12-01",
                               [101, 104, 105], pdf_bytes)
    with LocalSmtpServer() as server:
        use_server(mail_env, server)
        summary = deliver_report(warehouse, "usage_summary", "2025-12-01")
        assert (summary.sent, summary.recipients) == (2, 2)
        received = {tuple(rcpts): msg for rcpts, msg in server.messages}
        shared = received[("shared@example.test",)]
        assert attachments(shared) == {**written[104], **written[105]}
        assert shared["Subject"] == "Monthly usage summary — December 2025 — Initech, Initrode"
        body = shared.get_body(("plain",)).get_content()
        assert body.count("Sessions: 104") == 1 and body.count("Sessions: 105") == 1
        again = deliver_report(warehouse, "usage_summary", "2025-12-01")
        assert (again.sent, again.already_sent) == (0, 2) and len(server.messages) == 2


def test_internal_report_goes_to_every_listed_recipient(warehouse, mail_env, tmp_path, pdf_bytes):
    written = record_artifacts(warehouse, tmp_path / "artifacts", "monthly_revenue", "2026-03-01", [None], pdf_bytes)
    with LocalSmtpServer() as server:
        use_server(mail_env, server)
        summary = deliver_report(warehouse, "monthly_revenue", "2026-03-01")
        assert summary.sent == 2
        assert sorted(r[0] for r, _ in server.messages) == ["ceo@example.test", "finance@example.test"]
        assert all(attachments(m) == written[None] for _, m in server.messages)


def test_dropped_first_connection_still_delivers_exactly_one(warehouse, mail_env, tmp_path, pdf_bytes):
    record_artifacts(warehouse, tmp_path / "artifacts", "monthly_revenue", "2026-02-01", [None], pdf_bytes)
    mail_env.setenv("REPORT_INTERNAL_RECIPIENTS", "finance@example.test")
    with LocalSmtpServer() as server:
        use_server(mail_env, server)
        server.script.drop_connections = 1
        summary = deliver_report(warehouse, "monthly_revenue", "2026-02-01")
        assert summary.sent == 1 and server.script.connections == 2
        assert len(server.messages) == 1
    assert ledger(warehouse, "monthly_revenue", "2026-02-01")["finance@example.test"][:2] == ("sent", 2)


def test_temporary_4xx_is_retried_and_delivers_once(warehouse, mail_env, tmp_path, pdf_bytes):
    record_artifacts(warehouse, tmp_path / "artifacts", "monthly_revenue", "2026-01-01", [None], pdf_bytes)
    mail_env.setenv("REPORT_INTERNAL_RECIPIENTS", "finance@example.test")
    with LocalSmtpServer() as server:
        use_server(mail_env, server)
        server.script.data_replies = ["451 4.3.0 Mailbox busy, try again"]
        assert deliver_report(warehouse, "monthly_revenue", "2026-01-01").sent == 1
        assert len(server.messages) == 1
    assert ledger(warehouse, "monthly_revenue", "2026-01-01")["finance@example.test"][:3] == ("sent", 2, 250)


def test_temporary_errors_that_outlast_the_attempts_fail_and_a_rerun_sends(warehouse, mail_env, tmp_path, pdf_bytes):
    record_artifacts(warehouse, tmp_path / "artifacts", "monthly_revenue", "2025-12-01", [None], pdf_bytes)
    mail_env.setenv("REPORT_INTERNAL_RECIPIENTS", "finance@example.test")
    with LocalSmtpServer() as server:
        use_server(mail_env, server)
        server.script.data_replies = ["421 4.7.0 Try again later"] * 4
        with pytest.raises(DeliveryError, match="gave up after 4 attempts"):
            deliver_report(warehouse, "monthly_revenue", "2025-12-01")
        assert ledger(warehouse, "monthly_revenue", "2025-12-01")["finance@example.test"][:3] == ("failed", 4, 421)
        assert deliver_report(warehouse, "monthly_revenue", "2025-12-01").sent == 1
        assert len(server.messages) == 1


def test_permanent_5xx_is_recorded_per_recipient_and_not_retried(warehouse, mail_env, tmp_path, pdf_bytes):
    record_artifacts(warehouse, tmp_path / "artifacts", "usage_summary", "2026-02-01", [101, 102], pdf_bytes)
    with LocalSmtpServer() as server:
        use_server(mail_env, server)
        server.script.rcpt_reply = "550 5.1.1 Mailbox does not exist"
        summary = deliver_report(warehouse, "usage_summary", "2026-02-01")  # their fault alone: not raised
        assert [(u.who, u.reason) for u in summary.undeliverable] == [
            (f"account {a}", "refused by the server: 550 5.1.1 Mailbox does not exist") for a in (101, 102)]
        assert server.messages == []
        rows = ledger(warehouse, "usage_summary", "2026-02-01")
        assert rows["owner101@example.test"] == ("refused", 1, 550, "5.1.1 Mailbox does not exist")
        # once the mailbox exists a re-run delivers, still once each
        server.script.rcpt_reply = None
        assert deliver_report(warehouse, "usage_summary", "2026-02-01").sent == 2
        assert deliver_report(warehouse, "usage_summary", "2026-02-01").already_sent == 2
        assert len(server.messages) == 2


def test_live_claim_is_left_alone_and_a_crashed_claim_is_taken_over(warehouse, mail_env, tmp_path, pdf_bytes):
    record_artifacts(warehouse, tmp_path / "artifacts", "monthly_revenue", "2025-11-01", [None], pdf_bytes)
    mail_env.setenv("REPORT_INTERNAL_RECIPIENTS", "finance@example.test")
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("INSERT INTO reports.delivery_ledger (report_id, period, recipient, status, message_id,"
                     " claim_token, claimed_at) VALUES ('monthly_revenue', '2025-11-01', 'finance@example.test',"
                     " 'sending', '<x@test>', 'crashed-run', now())")
    with LocalSmtpServer() as server:
        use_server(mail_env, server)
        with pytest.raises(DeliveryError, match="another run is delivering"):
            deliver_report(warehouse, "monthly_revenue", "2025-11-01")
        assert server.messages == []
        with psycopg.connect(warehouse, autocommit=True) as conn:  # the claiming run died long ago
            conn.execute("UPDATE reports.delivery_ledger SET claimed_at = now() - interval '1 hour'"
                         " WHERE claim_token = 'crashed-run'")
        assert deliver_report(warehouse, "monthly_revenue", "2025-11-01").sent == 1
        assert len(server.messages) == 1


def test_login_when_configured(warehouse, mail_env, tmp_path, pdf_bytes):
    record_artifacts(warehouse, tmp_path / "artifacts", "monthly_revenue", "2025-10-01", [None], pdf_bytes)
    mail_env.setenv("REPORT_INTERNAL_RECIPIENTS", "finance@example.test")
    with LocalSmtpServer(credentials=("mailer", "s3cret")) as server:
        use_server(mail_env, server)
        mail_env.setenv("SMTP_USER", "mailer")
        mail_env.setenv("SMTP_PASSWORD", "wrong")
        with pytest.raises(DeliveryError, match="535"):
            deliver_report(warehouse, "monthly_revenue", "2025-10-01")
        mail_env.setenv("SMTP_PASSWORD", "s3cret")
        assert deliver_report(warehouse, "monthly_revenue", "2025-10-01").sent == 1
        assert len(server.messages) == 1


def test_outbox_without_smtp_host(warehouse, mail_env, tmp_path, pdf_bytes):
    written = record_artifacts(warehouse, tmp_path / "artifacts", "usage_summary", "2026-01-01", [101, 102],
                               pdf_bytes)
    summary = deliver_report(warehouse, "usage_summary", "2026-01-01")
    assert summary.outbox == 2
    files = sorted((tmp_path / "artifacts" / "outbox").glob("*.eml"))
    assert [f.name.startswith("usage_summary_20260101_account-10") for f in files] == [True, True]
    messages = {m["To"]: m for m in (message_from_bytes(f.read_bytes(), policy=policy.default) for f in files)}
    assert attachments(messages["owner102@example.test"]) == written[102]
    mtimes = [f.stat().st_mtime_ns for f in files]
    assert deliver_report(warehouse, "usage_summary", "2026-01-01").already_sent == 2
    assert [f.stat().st_mtime_ns for f in files] == mtimes
    assert {s for s, *_ in ledger(warehouse, "usage_summary", "2026-01-01").values()} == {"outbox"}


def test_changed_or_missing_artifacts_are_not_sent(warehouse, mail_env, tmp_path, pdf_bytes):
    written = record_artifacts(warehouse, tmp_path / "artifacts", "monthly_revenue", "2025-09-01", [None], pdf_bytes)
    csv = next(tmp_path.glob("artifacts/monthly_revenue/2025-09-01/*.csv"))
    csv.write_bytes(b"tampered")
    with pytest.raises(ValueError, match=f"{csv.name} changed since it was rendered"):
        deliver_report(warehouse, "monthly_revenue", "2025-09-01")
    csv.unlink()
    with pytest.raises(FileNotFoundError, match=csv.name):
        deliver_report(warehouse, "monthly_revenue", "2025-09-01")
    with pytest.raises(LookupError, match="materialize reports/monthly_revenue"):
        deliver_report(warehouse, "monthly_revenue", "2024-01-01")
    assert written and ledger(warehouse, "monthly_revenue", "2025-09-01") == {}


def test_starttls_with_login_and_a_verified_certificate(warehouse, mail_env, tmp_path, pdf_bytes):
    from tests.smtp_server import self_signed_certificate

    record_artifacts(warehouse, tmp_path / "artifacts", "monthly_revenue", "2025-08-01", [None], pdf_bytes)
    mail_env.setenv("REPORT_INTERNAL_RECIPIENTS", "finance@example.test")
    cert, key = self_signed_certificate(tmp_path)
    with LocalSmtpServer(credentials=("mailer", "s3cret"), tls_cert=(cert, key)) as server:
        use_server(mail_env, server)
        for name, value in {"SMTP_STARTTLS": "true", "SMTP_USER": "mailer", "SMTP_PASSWORD": "s3cret"}.items():
            mail_env.setenv(name, value)
        # a certificate the client cannot verify is a configuration error: no retries, no mail
        with pytest.raises(DeliveryError, match="certificate is not trusted"):
            deliver_report(warehouse, "monthly_revenue", "2025-08-01")
        assert ledger(warehouse, "monthly_revenue", "2025-08-01")["finance@example.test"][:2] == ("refused", 1)
        mail_env.setenv("SMTP_CA_FILE", str(cert))
        assert deliver_report(warehouse, "monthly_revenue", "2025-08-01").sent == 1
        assert len(server.messages) == 1


def test_connection_lost_while_waiting_for_the_data_reply_is_retried_once(warehouse, mail_env, tmp_path, pdf_bytes):
    record_artifacts(warehouse, tmp_path / "artifacts", "monthly_revenue", "2025-07-01", [None], pdf_bytes)
    mail_env.setenv("REPORT_INTERNAL_RECIPIENTS", "finance@example.test")
    with LocalSmtpServer() as server:
        use_server(mail_env, server)
        server.script.drop_in_data = 1  # this server did not keep the message it never acknowledged
        assert deliver_report(warehouse, "monthly_revenue", "2025-07-01").sent == 1
        assert len(server.messages) == 1
    assert ledger(warehouse, "monthly_revenue", "2025-07-01")["finance@example.test"][:2] == ("sent", 2)
