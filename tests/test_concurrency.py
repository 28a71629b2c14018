"""concurrent_sessions_peak on hand-made sessions across an hour and a day boundary."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from tests.handmade_source import add_session, seed_accounts
from tests.warehouse_fixtures import WarehouseBuilder


def _overlapping_sessions(conn: psycopg.Connection) -> None:
    seed_accounts(conn, signup="2026-03-11 00:00+00")  # inside the extracted range
    add_session(conn, 1, 1, "2026-03-11 22:30+00", "2026-03-12 01:30+00")  # A: crosses midnight
    add_session(conn, 2, 1, "2026-03-11 23:50+00", "2026-03-12 00:10+00")  # B
    add_session(conn, 3, 1, "2026-03-12 00:10+00", "2026-03-12 00:20+00")  # C starts as B ends
    add_session(conn, 4, 1, "2026-03-12 00:05+00", "2026-03-12 00:15+00")  # D
    add_session(conn, 5, 2, "2026-03-12 05:00+00", "2026-03-12 05:00+00")  # zero length


@pytest.fixture(scope="module")
def built(build_warehouse: WarehouseBuilder):
    build_warehouse.handmade(datetime(2026, 3, 11, tzinfo=UTC), datetime(2026, 3, 13, tzinfo=UTC),
                             _overlapping_sessions)


def test_hourly_peak_counts_sessions_started_earlier(built, db):
    rows = dict(db.execute(
        "SELECT to_char(hour_start, 'MM-DD HH24'), concurrent_sessions_peak "
        "FROM marts.fct_usage_hourly WHERE account_id = 1"
    ).fetchall())
    # 22h: A; 23h: A+B; 00h: A+B+D at 00:05, then B ends as C starts (A+D+C), never 4; 01h: A only
    assert rows == {"03-11 22": 1, "03-11 23": 2, "03-12 00": 3, "03-12 01": 1}


def test_carried_over_hour_has_a_row_without_new_sessions(built, db):
    created, peak = db.execute(
        "SELECT sessions_created, concurrent_sessions_peak FROM marts.fct_usage_hourly "
        "WHERE account_id = 1 AND hour_start = '2026-03-12 01:00+00'"
    ).fetchone()
    assert (created, peak) == (0, 1)


def test_daily_and_monthly_peaks(built, db):
    daily = dict(db.execute(
        "SELECT usage_date::text, concurrent_sessions_peak FROM marts.fct_usage_daily WHERE account_id = 1"
    ).fetchall())
    assert daily == {"2026-03-11": 2, "2026-03-12": 3}
    monthly = db.execute(
        "SELECT concurrent_sessions_peak FROM marts.fct_usage_monthly "
        "WHERE account_id = 1 AND usage_month = '2026-03-01'"
    ).fetchone()[0]
    assert monthly == 3


def test_zero_length_session_is_created_but_never_concurrent(built, db):
    created, peak = db.execute(
        "SELECT sessions_created, concurrent_sessions_peak FROM marts.fct_usage_hourly "
        "WHERE account_id = 2 AND hour_start = '2026-03-12 05:00+00'"
    ).fetchone()
    assert (created, peak) == (1, 0)
