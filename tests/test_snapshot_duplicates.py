"""Repeated keys in an extracted window, on both load paths of orchestration/snapshots/extract.py.

usage_events has no unique key in raw: rows are copied straight in and repeats are moved out after.
account_state_hourly has a primary key on its duplicate key: a repeat makes the direct copy fail and
the window is loaded again through a temporary table. Either way the first recorded copy is kept,
the other is quarantined as 'duplicate' under its event hour, and a re-run gives the same tables.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from orchestration.snapshots.run import snapshot_window
from tests.conftest import reset_warehouse
from tests.handmade_source import seed_accounts

START = datetime(2026, 3, 10, 0, tzinfo=UTC)
END = datetime(2026, 3, 10, 4, tzinfo=UTC)


@pytest.fixture(scope="module")
def source(warehouse_url: str) -> str:
    reset_warehouse(warehouse_url)
    with psycopg.connect(warehouse_url) as conn:
        seed_accounts(conn, signup="2026-03-01 00:00+00")
        conn.execute(
            "INSERT INTO app.usage_events VALUES "
            # event 10 delivered twice: the copy recorded first (01:06) is the one kept
            "(10, 1, '2026-03-10 01:05+00', 'api_call', NULL, 3, '2026-03-10 01:07+00'), "
            "(10, 1, '2026-03-10 01:05+00', 'api_call', NULL, 3, '2026-03-10 01:06+00'), "
            "(11, 2, '2026-03-10 02:30+00', 'export', 'csv', 1, '2026-03-10 02:31+00'), "
            "(12, 2, '2026-03-10 03:00+00', 'api_call', NULL, -1, '2026-03-10 03:01+00')"
        )
        conn.execute(
            "INSERT INTO app.storage_readings VALUES "
            "(1, '2026-03-10 01:00+00', 100, '2026-03-10 01:00:05+00'), "
            # account 1's 01:00-02:00 reading twice, the later recorded copy with another value
            "(1, '2026-03-10 02:00+00', 120, '2026-03-10 02:00:05+00'), "
            "(1, '2026-03-10 02:00+00', 999, '2026-03-10 02:10:00+00'), "
            "(2, '2026-03-10 02:00+00', 50, '2026-03-10 02:00:05+00')"
        )
        conn.commit()
    return warehouse_url


def tables(db) -> dict[str, list[tuple]]:
    queries = {
        "raw_events": "SELECT event_id, recorded_at FROM raw.usage_events ORDER BY 1, 2",
        "raw_state": "SELECT hour_start, account_id, storage_used_mb FROM raw.account_state_hourly ORDER BY 1, 2",
        "q_events": "SELECT event_id, reason, partition_hour, recorded_at FROM quarantine.usage_events ORDER BY 1, 2",
        "q_state": "SELECT account_id, reason, partition_hour, storage_used_mb FROM quarantine.account_state_hourly",
    }
    return {name: db.execute(q).fetchall() for name, q in queries.items()}


def test_first_recorded_copy_is_kept_on_both_paths_and_reruns_agree(source: str, db):
    results = {r.table: r for r in snapshot_window(source, source, START, END)}
    first = tables(db)

    assert results["usage_events"].rows_loaded == 2
    assert results["usage_events"].quarantined_by_reason == {"duplicate": 1, "negative_quantity": 1}
    assert [e for e, _ in first["raw_events"]] == [10, 11]
    assert first["raw_events"][0][1] == datetime(2026, 3, 10, 1, 6, tzinfo=UTC)
    assert first["q_events"][0][:3] == (10, "duplicate", datetime(2026, 3, 10, 1, tzinfo=UTC))
    assert first["q_events"][0][3] == datetime(2026, 3, 10, 1, 7, tzinfo=UTC)

    assert results["account_state_hourly"].rows_loaded == 3
    assert results["account_state_hourly"].quarantined_by_reason == {"duplicate": 1}
    kept = {(h.hour, a): float(mb) for h, a, mb in first["raw_state"]}
    assert kept == {(0, 1): 100.0, (1, 1): 120.0, (1, 2): 50.0}
    assert [(a, r, h.hour, float(mb)) for a, r, h, mb in first["q_state"]] == [(1, "duplicate", 1, 999.0)]

    snapshot_window(source, source, START, END)
    assert tables(db) == first
