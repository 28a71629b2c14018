"""Retention purge, account erasure and bulk operations on a small simulated warehouse."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest

from orchestration.operations.bulk import run_bulk
from orchestration.operations.erasure import account_tables, erase_account
from orchestration.operations.retention import day_ranges, purge_expired, split_due_days
from tests.warehouse_fixtures import SimulatedHistory, WarehouseBuilder

END = pd.Timestamp("2026-03-12", tz="UTC").to_pydatetime()
DAYS = 5
HISTORY = SimulatedHistory(accounts=15, days=DAYS, seed=5, end=END)
RETENTION = 2  # with now = END: days before END - 2 days are due


def scalar(db, query: str, *params):
    """The first column of the first row."""
    return db.execute(query, params).fetchone()[0]


@pytest.fixture(scope="module")
def built(build_warehouse: WarehouseBuilder):
    from orchestration.definitions import defs

    build_warehouse.simulated(HISTORY)
    return defs


def test_purge_days_are_merged_and_only_rolled_up_days_go():
    d = [pd.Timestamp(x).date() for x in ("2026-03-01", "2026-03-02", "2026-03-04")]
    assert [(s.day, e.day) for s, e in day_ranges(d)] == [(1, 3), (4, 5)]
    assert split_due_days(set(d), {d[0], d[2]}) == ([d[0], d[2]], [d[1]])


def test_retention_purges_rolled_up_days_once_and_holds_back_the_rest(built, db, dagster_instance):
    cutoff = END - timedelta(days=RETENTION)
    held_day = (cutoff - timedelta(days=1)).date()  # due, but its rollup is taken away below
    raw_due = scalar(db, "SELECT count(*) FROM raw.usage_events WHERE occurred_at < %s", cutoff)
    raw_held = scalar(db, "SELECT count(*) FROM raw.usage_events WHERE occurred_at::date = %s", held_day)
    raw_kept = scalar(db, "SELECT count(*) FROM raw.usage_events WHERE occurred_at >= %s", cutoff)
    sessions_due = scalar(db, "SELECT count(*) FROM raw.sessions WHERE started_at < %s AND started_at::date <> %s",
                         cutoff, held_day)
    quarantined_due = scalar(db, "SELECT count(*) FROM quarantine.usage_events WHERE partition_hour < %s "
                                "AND partition_hour::date <> %s", cutoff, held_day)
    assert raw_due > raw_held > 0 and raw_kept > 0 and sessions_due > 0
    daily_before = scalar(db, "SELECT sum(api_calls) FROM marts.fct_usage_daily WHERE usage_date <> %s", held_day)
    db.execute("DELETE FROM marts.fct_usage_daily WHERE usage_date = %s", (held_day,))  # not rolled up

    first = purge_expired(db.info.dsn, RETENTION, now=END)
    assert first.cutoff == cutoff and first.days_held_back == 1 and first.days_purged >= 2
    assert first.removed["raw.usage_events"] == raw_due - raw_held
    assert first.removed["raw.sessions"] == sessions_due
    assert first.removed.get("quarantine.usage_events", 0) == quarantined_due
    assert scalar(db, "SELECT count(*) FROM raw.usage_events WHERE occurred_at::date = %s", held_day) == raw_held
    assert scalar(db, "SELECT count(*) FROM raw.usage_events WHERE occurred_at >= %s", cutoff) == raw_kept
    assert scalar(db, "SELECT count(*) FROM raw.accounts") > 0  # entities are kept
    # the rolled-up totals stay in the mart
    assert scalar(db, "SELECT sum(api_calls) FROM marts.fct_usage_daily") == daily_before

    second = purge_expired(db.info.dsn, RETENTION, now=END)
    assert second.rows_removed == 0 and second.days_held_back == 1

    # once the held-back day is rolled up again, the next purge takes it
    assert built.resolve_job_def("daily_rollup_job").execute_in_process(
        partition_key=held_day.isoformat(), instance=dagster_instance).success
    third = purge_expired(db.info.dsn, RETENTION, now=END)
    assert third.removed["raw.usage_events"] == raw_held and third.days_held_back == 0
    runs = db.execute("SELECT rows_removed, removed FROM ops.retention_runs ORDER BY retention_run_id").fetchall()
    assert [r[0] for r in runs] == [first.rows_removed, 0, third.rows_removed]
    assert runs[0][1] == first.removed


def _busiest_account(db) -> int:
    return scalar(db, "SELECT account_id FROM marts.fct_usage_hourly GROUP BY 1 ORDER BY sum(sessions_created) DESC "
                     "LIMIT 1")


def test_erasure_removes_the_account_everywhere_and_survives_a_re_snapshot(
        built, db, warehouse_url, dagster_instance, tmp_path, monkeypatch):
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path))
    account = _busiest_account(db)
    other = scalar(db, "SELECT min(account_id) FROM raw.accounts WHERE account_id <> %s", account)
    email = db.execute("SELECT owner_email FROM raw.accounts WHERE account_id = %s", (account,)).fetchone()[0]
    # a model output, a report file with its manifest, and a delivered report for the account
    db.execute("INSERT INTO ml.activity_alive VALUES (%s, '2026-03-11', 3, 4, 5, 0.9), "
               "(%s, '2026-03-11', 1, 1, 5, 0.5)", (account, other))
    folder = tmp_path / "usage_summary" / "2026-02-01"
    folder.mkdir(parents=True)
    (folder / "usage_summary_acme_20260201.pdf").write_bytes(b"%PDF-1.7 account report")
    (folder / "manifest.json").write_text(json.dumps({"files": [
        {"name": "usage_summary_acme_20260201.pdf", "account_id": account},
        {"name": "usage_summary_other_20260201.pdf", "account_id": other}]}))
    db.execute("INSERT INTO reports.report_artifacts (report_id, period, account_id, format, path, bytes, sha256, "
               "data_hash) VALUES ('usage_summary', '2026-02-01', %s, 'pdf', %s, 10, 'x', 'y')",
               (account, "usage_summary/2026-02-01/usage_summary_acme_20260201.pdf"))
    db.execute("INSERT INTO reports.delivery_ledger (report_id, period, recipient, account_id, status, message_id, "
               "claim_token, attachments, smtp_reply, claimed_at) VALUES ('usage_summary', '2026-02-01', %s, %s, "
               "'sent', '<m1@x>', 't', %s, %s, now())",
               (email, account, ["usage_summary_acme_20260201.pdf"], f"250 OK queued for {email}"))
    before = {f"{s}.{t}": scalar(db, f'SELECT count(*) FROM "{s}"."{t}" WHERE account_id = %s', account)
              for s, t in account_tables(db)}
    assert before["raw.sessions"] > 0 and before["marts.fct_usage_hourly"] > 0 and before["raw.accounts"] == 1
    other_rows = scalar(db, "SELECT count(*) FROM raw.sessions WHERE account_id <> %s", account)

    report = erase_account(warehouse_url, account, requested_by="test")
    assert report.removed == {**{k: v for k, v in before.items() if v},
                              "reports.delivery_ledger (tombstoned)": 1}
    assert report.files_removed == 1 and not (folder / "usage_summary_acme_20260201.pdf").exists()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [f["account_id"] for f in manifest["files"]] == [other]
    for s, t in account_tables(db):
        assert scalar(db, f'SELECT count(*) FROM "{s}"."{t}" WHERE account_id = %s', account) == 0, (s, t)
    ledger = db.execute("SELECT recipient, status, attachments, smtp_reply FROM reports.delivery_ledger").fetchall()
    assert ledger == [(f"erased-account:{account}", "sent", [], None)]
    assert scalar(db, "SELECT count(*) FROM raw.sessions WHERE account_id <> %s", account) == other_rows
    assert scalar(db, "SELECT count(*) FROM app.sessions WHERE account_id = %s", account) > 0  # source untouched

    # the account still exists in the source: re-snapshotting and rebuilding must not bring it back
    tags = {"dagster/asset_partition_range_start": (END - timedelta(days=1)).strftime("%Y-%m-%d-%H:%M"),
            "dagster/asset_partition_range_end": (END - timedelta(hours=1)).strftime("%Y-%m-%d-%H:%M")}
    result = built.resolve_job_def("hourly_snapshot_job").execute_in_process(instance=dagster_instance, tags=tags)
    assert result.success
    metadata = [m.metadata for m in result.asset_materializations_for_node("hourly_source_snapshot")
                if m.asset_key.path == ["raw", "sessions"]]
    assert sum(m["run_quarantined_by_reason"].data.get("erased", 0) for m in metadata) > 0
    assert built.resolve_job_def("dimensions_job").execute_in_process(instance=dagster_instance).success
    for s, t in account_tables(db):
        assert scalar(db, f'SELECT count(*) FROM "{s}"."{t}" WHERE account_id = %s', account) == 0, (s, t)
    assert scalar(db, "SELECT count(*) FROM raw.sessions WHERE account_id <> %s", account) > 0

    again = erase_account(warehouse_url, account)
    assert again.rows_removed == 0 and again.files_removed == 0 and again.removed == {}
    runs = db.execute("SELECT rows_removed, files_removed FROM ops.erasure_runs WHERE account_id = %s "
                      "ORDER BY erasure_run_id", (account,)).fetchall()
    assert runs == [(report.rows_removed, 1), (0, 0)]


def test_bulk_operation_isolates_each_account_and_stores_a_summary(built, db, warehouse_url, caplog):
    accounts = [str(a) for (a,) in db.execute(
        "SELECT account_id FROM raw.accounts ORDER BY account_id LIMIT 5")]
    # induced failures: one account's mart no longer matches its raw rows, and input that is no id
    db.execute("UPDATE marts.fct_usage_daily SET api_calls = api_calls + 7 WHERE account_id = %s "
               "AND usage_date = (SELECT max(usage_date) FROM marts.fct_usage_daily)", (int(accounts[1]),))
    given = accounts[:2] + ["12x"] + accounts[2:]
    caplog.set_level("INFO", logger="orchestration.operations.bulk")
    ticks = []
    summary = run_bulk(warehouse_url, "usage_audit", given, progress_every=4,
                       progress=lambda done, total, s: ticks.append((done, total, s.failed)))
    assert summary.succeeded == 4 and summary.failed == 2 and summary.status == "partial"
    assert "not an integer" in summary.failures["12x"]
    assert "api_calls (mart" in summary.failures[accounts[1]]
    assert ticks == [(4, 6, 2), (6, 6, 2)]
    assert "usage_audit: 4/6 accounts, 2 failed" in caplog.text
    stored = db.execute("SELECT operation, accounts_total, succeeded, failed, status, finished_at IS NOT NULL "
                        "FROM ops.bulk_runs WHERE bulk_run_id = %s", (summary.bulk_run_id,)).fetchone()
    assert stored == ("usage_audit", 6, 4, 2, "partial", True)
    outcomes = db.execute("SELECT account, succeeded, error IS NULL FROM ops.bulk_run_accounts "
                          "WHERE bulk_run_id = %s ORDER BY position", (summary.bulk_run_id,)).fetchall()
    assert [o[0] for o in outcomes] == given
    assert [o[1] for o in outcomes] == [True, False, False, True, True, True]

    # a bulk erase with an id the database cannot hold (a database error mid-batch), run twice
    batch = [accounts[3], str(2**63), accounts[4]]
    first = run_bulk(warehouse_url, "erase", batch)
    second = run_bulk(warehouse_url, "erase", batch)
    assert (first.succeeded, first.failed, first.status) == (2, 1, "partial")
    assert "out of range" in first.failures[str(2**63)]
    details = db.execute("SELECT bulk_run_id, (detail->>'rows_removed')::bigint FROM ops.bulk_run_accounts "
                         "WHERE bulk_run_id IN (%s, %s) AND succeeded ORDER BY bulk_run_id, position",
                         (first.bulk_run_id, second.bulk_run_id)).fetchall()
    assert [rows > 0 for run, rows in details if run == first.bulk_run_id] == [True, True]
    assert [rows for run, rows in details if run == second.bulk_run_id] == [0, 0]
    assert scalar(db, "SELECT count(*) FROM raw.accounts WHERE account_id = ANY(%s)",
                 [int(accounts[3]), int(accounts[4])]) == 0

    with pytest.raises(ValueError, match="unknown bulk operation 'reset'"):
        run_bulk(warehouse_url, "reset", accounts)


def test_operator_jobs_run_in_dagster(built, db, dagster_instance, monkeypatch):
    monkeypatch.setenv("RETENTION_DAYS", "100000")  # nothing is that old: the purge is a no-op
    account = scalar(db, "SELECT min(account_id) FROM raw.accounts")
    erased = built.resolve_job_def("erase_account_job").execute_in_process(
        instance=dagster_instance,
        run_config={"ops": {"erase_account_everywhere": {"config": {"account_id": account}}}})
    assert erased.success and erased.output_for_node("erase_account_everywhere") > 0
    assert scalar(db, "SELECT count(*) FROM raw.accounts WHERE account_id = %s", account) == 0
    assert scalar(db, "SELECT requested_by FROM ops.erased_accounts WHERE account_id = %s", account).startswith(
        "dagster run ")

    purged = built.resolve_job_def("retention_job").execute_in_process(instance=dagster_instance)
    assert purged.success and purged.output_for_node("purge_expired_rows") == 0

    bulk = built.resolve_job_def("bulk_operation_job").execute_in_process(
        instance=dagster_instance, raise_on_error=False,
        run_config={"ops": {"bulk_operation": {"config": {"operation": "erase", "accounts": [str(account), "nope"],
                                                          "progress_every": 1}}}})
    assert not bulk.success  # red, but only after every account was attempted and the summary stored
    assert db.execute("SELECT accounts_total, succeeded, failed, status FROM ops.bulk_runs "
                      "ORDER BY bulk_run_id DESC LIMIT 1").fetchone() == (2, 1, 1, "partial")
