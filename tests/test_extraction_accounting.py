"""Row accounting: the per-hour asset check counts every source row in raw, in quarantine or as an
erased account's, passes on a clean extraction (range and single hour), ignores rows recorded after
the extraction's cutoff, and fails naming the row when one the extraction should have stored is in
neither.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import psycopg
import pytest

from orchestration.snapshots.accounting import account_rows
from orchestration.snapshots.tables import HOURLY_SNAPSHOT_TABLES, USAGE_EVENTS
from tests.conftest import reset_warehouse
from tests.handmade_source import add_session, seed_accounts

START = datetime(2026, 3, 10, 0, tzinfo=UTC)
END = datetime(2026, 3, 10, 3, tzinfo=UTC)


@pytest.fixture(scope="module")
def source(warehouse_url: str) -> str:
    reset_warehouse(warehouse_url)
    with psycopg.connect(warehouse_url) as conn:
        seed_accounts(conn, signup="2026-03-10 00:30+00")
        conn.execute(
            "INSERT INTO app.usage_events VALUES "
            "(1, 1, '2026-03-10 01:05+00', 'api_call', NULL, 3, '2026-03-10 01:06+00'), "
            "(1, 1, '2026-03-10 02:05+00', 'api_call', NULL, 3, '2026-03-10 02:06+00'), "  # duplicate
            "(2, 1, '2026-03-10 01:10+00', 'api_call', NULL, -3, '2026-03-10 01:11+00'), "  # negative
            "(3, 2, '2026-03-10 01:15+00', 'export', 'csv', 1, '2026-03-10 01:16+00'), "  # erased account
            "(4, 1, '2036-03-10 01:20+00', 'api_call', NULL, 1, '2026-03-10 02:21+00')"  # future: hour 02
        )
        add_session(conn, 1, 2, "2026-03-10 01:00+00", "2026-03-10 01:30+00")  # erased account
        add_session(conn, 2, 1, "2026-03-10 02:00+00", "2026-03-10 02:30+00")
        conn.execute("INSERT INTO app.storage_readings VALUES (1, '2026-03-10 02:00+00', 10, '2026-03-10 02:00:05+00')")
        conn.execute("INSERT INTO ops.erased_accounts (account_id, first_erased_at) VALUES (2, now())")
        conn.commit()
    return warehouse_url


def _run(instance, tags: dict[str, str] | None = None, partition_key: str | None = None,
         raise_on_error: bool = True):
    from orchestration.defs.resources import SourceResource, WarehouseResource
    from orchestration.defs.snapshots import hourly_row_accounting, hourly_source_snapshot

    return dg.materialize(
        [hourly_source_snapshot, hourly_row_accounting], instance=instance, tags=tags,
        partition_key=partition_key, resources={"warehouse": WarehouseResource(), "source": SourceResource()},
        raise_on_error=raise_on_error)


def test_the_check_passes_for_a_range_and_for_a_single_hour(source, dagster_instance):
    ranged = _run(dagster_instance, tags={"dagster/asset_partition_range_start": "2026-03-10-00:00",
                                          "dagster/asset_partition_range_end": "2026-03-10-02:00"})
    single = _run(dagster_instance, partition_key="2026-03-10-01:00")
    for result in (ranged, single):
        evaluations = {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}
        assert set(evaluations) == {t.name for t in HOURLY_SNAPSHOT_TABLES}
        assert all(e.passed for e in evaluations.values()), evaluations
    events = {e.asset_key.path[-1]: e.metadata for e in ranged.get_asset_check_evaluations()}["usage_events"]
    counts = {k: events[k].value for k in ("source_rows", "raw_rows", "quarantined_rows", "erased_account_rows",
                                           "rows_in_neither", "hours")}
    assert counts == {"source_rows": 5, "raw_rows": 1, "quarantined_rows": 3, "erased_account_rows": 1,
                      "rows_in_neither": 0, "hours": 3}
    sessions = {e.asset_key.path[-1]: e.metadata for e in ranged.get_asset_check_evaluations()}["sessions"]
    assert sessions["erased_account_rows"].value == 1 and sessions["raw_rows"].value == 1


def test_a_row_recorded_after_the_cutoff_is_the_next_ticks_not_lost(source, db):
    db.execute("INSERT INTO app.usage_events VALUES "
               "(5, 1, '2026-03-10 01:40+00', 'api_call', NULL, 1, now())")
    try:
        assert all(r.passed for r in account_rows(source, source, [USAGE_EVENTS], START, END))
    finally:
        db.execute("DELETE FROM app.usage_events WHERE event_id = 5")


def test_a_row_the_extraction_did_not_get_fails_and_is_named(source, db):
    # Recorded at 01:40, long before the cutoff, but committed after the extraction read the source
    # (a writer that held its transaction open too long): no later tick will look at it again.
    db.execute("INSERT INTO app.usage_events VALUES "
               "(6, 1, '2026-03-10 01:40+00', 'api_call', NULL, 1, '2026-03-10 01:41+00')")
    (result,) = account_rows(source, source, [USAGE_EVENTS], START, END)
    assert not result.passed
    assert [(h.hour.hour, h.missing) for h in result.hours if h.missing] == [(1, 1)]
    assert [(r["event_id"], r["occurred_at"]) for r in result.missing_rows] == [("6", "2026-03-10 01:40:00+00:00")]


def test_a_lost_row_fails_the_run_so_the_operator_is_alerted(source, db, dagster_instance, monkeypatch, tmp_path):
    from orchestration.defs import snapshots
    from orchestration.defs.alerts import alert_run_failure, failed_checks

    def a_writer_commits_late(*args, **kwargs):
        # recorded long before the extraction's cutoff, committed after the extraction read the source
        db.execute("INSERT INTO app.usage_events VALUES "
                   "(7, 1, '2026-03-10 01:45+00', 'api_call', NULL, 1, '2026-03-10 01:46+00')")
        return account_rows(*args, **kwargs)

    monkeypatch.setattr(snapshots, "account_rows", a_writer_commits_late)
    try:
        result = _run(dagster_instance, partition_key="2026-03-10-01:00", raise_on_error=False)
    finally:
        db.execute("DELETE FROM app.usage_events WHERE event_id = 7")
    assert not result.success  # blocking: the run fails, and the hour's rollups would not run
    [failed] = failed_checks(dagster_instance, result.run_id)
    assert (failed.check_name, failed.asset_key.path[-1]) == ("row_accounting", "usage_events")
    monkeypatch.setenv("OPERATOR_EMAIL", "operator@example.test")
    monkeypatch.delenv("SMTP_HOST", raising=False)
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path))  # the alert is an .eml in its outbox
    run = dagster_instance.get_run_by_id(result.run_id)
    steps = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert alert_run_failure(dagster_instance, run, steps, None, source) == ["outbox"]
    [mail] = (tmp_path / "outbox").glob("alert_*.eml")
    assert "row_accounting" in mail.read_text() and "event_id" in mail.read_text()


def test_an_hour_never_extracted_fails(source, db):
    db.execute("DELETE FROM raw.snapshot_log "
               "WHERE table_name = 'usage_events' AND partition_hour = '2026-03-10 02:00+00'")
    (result,) = account_rows(source, source, [USAGE_EVENTS], START, END)
    assert not result.passed
    assert result.never_extracted == [datetime(2026, 3, 10, 2, tzinfo=UTC)]
