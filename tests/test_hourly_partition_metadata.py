"""A range run of the hourly snapshot gives each hour's partition that hour's own figures.

Three hours in one run: every raw table's rows_loaded per hour equals a count of raw rows in
that hour, quarantined rows are counted in the hour they were filed under, and the run's totals
are recorded under their own names. A run too long for per-hour figures says so on every hour.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from tests.conftest import reset_warehouse
from tests.handmade_source import add_session, seed_accounts

HOURS = [datetime(2026, 3, 10, h, tzinfo=UTC) for h in (1, 2, 3)]
KEY_FORMAT = "%Y-%m-%d-%H:%M"


@pytest.fixture(scope="module")
def source(warehouse_url: str) -> str:
    reset_warehouse(warehouse_url)
    with psycopg.connect(warehouse_url) as conn:
        seed_accounts(conn, signup="2026-03-10 00:00+00")  # before the range: loaded, but in hour 00
        add_session(conn, 1, 1, "2026-03-10 01:10+00", "2026-03-10 01:20+00")
        for session_id, minute in ((2, 5), (3, 15), (4, 40)):
            add_session(conn, session_id, 2, f"2026-03-10 02:{minute:02d}+00", f"2026-03-10 02:{minute + 9:02d}+00")
        add_session(conn, 5, 1, "2026-03-10 03:30+00", "2026-03-10 03:10+00",  # ends before it starts
                    recorded="2026-03-10 03:45+00")
        conn.commit()
    return warehouse_url


def range_run_metadata():
    """raw table -> hour -> metadata of that hour's materialization, after one 3-hour range run."""
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.snapshots.tables import HOURLY_SNAPSHOT_TABLES

    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("hourly_snapshot_job").execute_in_process(
            instance=instance, tags={"dagster/asset_partition_range_start": HOURS[0].strftime(KEY_FORMAT),
                                     "dagster/asset_partition_range_end": HOURS[-1].strftime(KEY_FORMAT)})
        assert result.success
        found = {}
        for table in HOURLY_SNAPSHOT_TABLES:
            key = dg.AssetKey(["raw", table.name])
            found[table] = {}
            for hour in HOURS:
                records = instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=key, asset_partitions=[hour.strftime(KEY_FORMAT)]), limit=1
                ).records
                found[table][hour] = {k: v.value for k, v in records[0].asset_materialization.metadata.items()}
    return found


@pytest.fixture(scope="module")
def materializations(source):
    return range_run_metadata()


def test_each_hour_records_its_own_rows_loaded_counted_from_raw(materializations, db):
    for table, by_hour in materializations.items():
        for hour, metadata in by_hour.items():
            in_raw = db.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE {} >= %s AND {} < %s").format(
                    sql.Identifier("raw", table.name), sql.Identifier(table.event_time),
                    sql.Identifier(table.event_time)),
                (hour, hour + timedelta(hours=1))).fetchone()[0]
            assert metadata["rows_loaded"] == in_raw, (table.name, hour)
    sessions = {hour: m["rows_loaded"] for hour, m in next(
        by_hour for t, by_hour in materializations.items() if t.name == "sessions").items()}
    assert sessions == dict(zip(HOURS, (1, 3, 0), strict=True))  # each hour's own count, not the run's 4


def test_quarantined_rows_count_in_their_own_hour(materializations, db):
    sessions = next(by_hour for t, by_hour in materializations.items() if t.name == "sessions")
    filed = dict(db.execute("SELECT partition_hour, count(*) FROM quarantine.sessions GROUP BY 1").fetchall())
    assert filed == {HOURS[2]: 1}
    assert [sessions[h]["rows_quarantined"] for h in HOURS] == [0, 0, 1]
    assert sessions[HOURS[2]]["quarantined_by_reason"] == {"ended_before_started": 1}
    assert sessions[HOURS[0]]["quarantined_by_reason"] == {}


def test_the_run_totals_are_named_as_the_runs(materializations, db):
    accounts = next(by_hour for t, by_hour in materializations.items() if t.name == "accounts")
    for metadata in accounts.values():
        assert metadata["rows_loaded"] == 0  # both accounts signed up at 00:00, before the range
        assert metadata["run_rows_loaded"] == db.execute("SELECT count(*) FROM raw.accounts").fetchone()[0] == 2
        assert (metadata["run_window_start"], metadata["run_window_end"]) == (
            HOURS[0].isoformat(), (HOURS[-1] + timedelta(hours=1)).isoformat())


def test_a_run_too_long_for_hour_figures_says_its_totals_are_the_runs(source, monkeypatch):
    from orchestration.defs import snapshots

    monkeypatch.setattr(snapshots, "MAX_HOURS_WITH_OWN_FIGURES", 2)  # as if the 3 hours were a 90-day backfill
    for table, by_hour in range_run_metadata().items():
        for metadata in by_hour.values():
            assert "rows_loaded" not in metadata
            assert metadata["hour_figures"].startswith("run_* are this run's totals over its 3 hours, not this hour's")
            assert f"table_name = '{table.name}'" in metadata["hour_figures"]
