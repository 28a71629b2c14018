"""Every quarantine rule of the extraction, one bad source row each (issue 12, reproduction 8).

Each case is a valid row with some columns overridden; it must land in quarantine with the rule's
reason, and nowhere in raw. The cases are recognised by their recorded_at (unique per case). A
last test fails when a rule is added to orchestration/snapshots/tables.py without a case here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from orchestration.snapshots import domain
from orchestration.snapshots.run import snapshot_window
from orchestration.snapshots.tables import HOURLY_SNAPSHOT_TABLES
from orchestration.source import population
from tests.conftest import reset_warehouse
from tests.handmade_source import seed_accounts

START = datetime(2026, 3, 10, 0, tzinfo=UTC)
END = datetime(2026, 3, 10, 4, tzinfo=UTC)
RECORDED = datetime(2026, 3, 10, 1, 30, tzinfo=UTC)  # case i is recorded at RECORDED + i seconds
FUTURE = "2036-03-10 01:00+00"
INT_MAX = 2**31 - 1

# (source table, valid row)
VALID = {
    "sessions": {"session_id": 1, "account_id": 1, "started_at": "2026-03-10 01:00+00",
                 "ended_at": "2026-03-10 01:20+00", "audio_minutes": 15, "audio_file_size_mb": 15,
                 "transcription_status": "completed"},
    "usage_events": {"event_id": 1, "account_id": 1, "occurred_at": "2026-03-10 01:10+00",
                     "event_type": "api_call", "export_format": None, "quantity": 3},
    "storage_readings": {"account_id": 1, "measured_at": "2026-03-10 01:00+00", "storage_used_mb": 100},
    "accounts": {"account_id": 10, "account_name": "Gamma", "owner_name": "Ann Lee",
                 "owner_email": "ann@example.com", "user_type": "team", "country": "FR",
                 "timezone": "Europe/Paris", "acquisition_channel": "organic",
                 "signup_at": "2026-03-10 01:00+00"},
    "subscriptions": {"subscription_id": 1, "account_id": 1, "plan_id": "pro", "billing_period": "monthly",
                      "is_trial": False, "started_at": "2026-03-01 00:00+00", "ended_at": None,
                      "end_reason": None, "status": "active", "updated_at": "2026-03-10 01:00+00"},
    "invoices": {"invoice_id": 1, "account_id": 1, "subscription_id": 1,
                 "period_start": "2026-03-01 00:00+00", "period_end": "2026-04-01 00:00+00",
                 "issued_at": "2026-03-10 01:00+00", "subscription_fee": 29, "overage_fee": 0,
                 "total": 29, "currency": "USD", "status": "paid"},
}
RAW_NAME = {"storage_readings": "account_state_hourly"}

# (source table, overrides, reason); ids that must be unique get a fresh one per case
CASES = [
    ("sessions", {"account_id": None}, "missing_account_id"),
    ("sessions", {"started_at": None}, "missing_started_at"),
    ("sessions", {"started_at": FUTURE, "ended_at": "2036-03-10 01:20+00"}, "timestamp_in_future"),
    ("sessions", {"account_id": 999}, "unknown_account"),
    ("sessions", {"session_id": None}, "missing_session_id"),
    ("sessions", {"ended_at": None}, "missing_ended_at"),
    ("sessions", {"ended_at": "2026-03-10 00:50+00"}, "ended_before_started"),
    ("sessions", {"ended_at": "2026-03-11 02:00+00"}, "session_longer_than_24h"),
    ("sessions", {"audio_minutes": -1}, "negative_quantity"),
    ("sessions", {"audio_file_size_mb": None}, "missing_quantity"),
    ("sessions", {"audio_minutes": 999_999_999}, "audio_minutes_above_maximum"),
    ("sessions", {"audio_file_size_mb": 999_999_999}, "file_size_above_maximum"),
    ("sessions", {"transcription_status": "exe"}, "unknown_transcription_status"),
    ("usage_events", {"account_id": None}, "missing_account_id"),
    ("usage_events", {"occurred_at": None}, "missing_occurred_at"),
    ("usage_events", {"occurred_at": FUTURE}, "timestamp_in_future"),
    ("usage_events", {"account_id": 999}, "unknown_account"),
    ("usage_events", {"event_id": None}, "missing_event_id"),
    ("usage_events", {"quantity": None}, "missing_quantity"),
    ("usage_events", {"quantity": -2}, "negative_quantity"),
    ("usage_events", {"quantity": INT_MAX}, "quantity_above_maximum"),
    ("usage_events", {"event_type": "hack"}, "unknown_event_type"),
    ("usage_events", {"event_type": "export", "export_format": "exe"}, "unknown_export_format"),
    ("storage_readings", {"account_id": None}, "missing_account_id"),
    ("storage_readings", {"measured_at": None}, "missing_measured_at"),
    ("storage_readings", {"measured_at": FUTURE}, "timestamp_in_future"),
    ("storage_readings", {"account_id": 999}, "unknown_account"),
    ("storage_readings", {"storage_used_mb": None}, "missing_quantity"),
    ("storage_readings", {"storage_used_mb": -5}, "negative_quantity"),
    ("storage_readings", {"storage_used_mb": 99_999_999_999}, "storage_above_maximum"),
    ("accounts", {"signup_at": "2036-03-10 01:00+00"}, "timestamp_in_future"),
    ("accounts", {"user_type": "hacker"}, "unknown_user_type"),
    ("accounts", {"country": "XX"}, "unknown_country"),
    ("accounts", {"acquisition_channel": "spam"}, "unknown_acquisition_channel"),
    ("subscriptions", {"updated_at": FUTURE}, "timestamp_in_future"),
    ("subscriptions", {"account_id": 999}, "unknown_account"),
    ("subscriptions", {"plan_id": "plan_exe"}, "unknown_plan"),
    ("subscriptions", {"billing_period": "weekly"}, "unknown_billing_period"),
    ("subscriptions", {"status": "exe"}, "unknown_subscription_status"),
    ("subscriptions", {"ended_at": "2026-02-01 00:00+00", "end_reason": "voluntary", "status": "canceled"},
     "ended_before_started"),
    ("invoices", {"issued_at": FUTURE}, "timestamp_in_future"),
    ("invoices", {"account_id": 999}, "unknown_account"),
    ("invoices", {"overage_fee": -1, "total": 28}, "negative_quantity"),
    ("invoices", {"subscription_fee": 99_999_999, "total": 99_999_999}, "amount_above_maximum"),
    ("invoices", {"total": 30}, "total_mismatch"),
    ("invoices", {"currency": "EXE"}, "unknown_currency"),
    ("invoices", {"status": "exe"}, "unknown_invoice_status"),
]
UNIQUE_IDS = {"accounts": "account_id", "subscriptions": "subscription_id", "invoices": "invoice_id",
              "sessions": "session_id", "usage_events": "event_id"}


def recorded(case: int) -> datetime:
    return RECORDED + timedelta(seconds=case)


@pytest.fixture(scope="module")
def extracted(warehouse_url: str) -> dict[str, dict[str, int]]:
    reset_warehouse(warehouse_url)
    with psycopg.connect(warehouse_url) as conn:
        seed_accounts(conn, signup="2026-03-01 00:00+00")
        for case, (table, overrides, _) in enumerate(CASES):
            row = {**VALID[table], **overrides, "recorded_at": recorded(case)}
            if table in UNIQUE_IDS and overrides.get(UNIQUE_IDS[table], 0) is not None:
                row[UNIQUE_IDS[table]] = 100 + case
            columns = ", ".join(row)
            conn.execute(f"INSERT INTO app.{table} ({columns}) VALUES ({', '.join(['%s'] * len(row))})",
                         list(row.values()))
        conn.commit()
    return {r.table: r.quarantined_by_reason for r in snapshot_window(warehouse_url, warehouse_url, START, END)}


@pytest.mark.parametrize(("case", "table", "reason"),
                         [(i, table, reason) for i, (table, _, reason) in enumerate(CASES)],
                         ids=[f"{table}-{reason}" for table, _, reason in CASES])
def test_bad_row_is_quarantined_with_its_reason(extracted, db, case: int, table: str, reason: str):
    name = RAW_NAME.get(table, table)
    at = recorded(case)
    assert db.execute(f"SELECT reason FROM quarantine.{name} WHERE recorded_at = %s", (at,)).fetchall() == [
        (reason,)]
    assert db.execute(f"SELECT count(*) FROM raw.{name} WHERE recorded_at = %s", (at,)).fetchone()[0] == 0


def test_quarantine_counts_reach_the_asset_metadata(extracted):
    expected: dict[str, dict[str, int]] = {}
    for table, _, reason in CASES:
        counts = expected.setdefault(RAW_NAME.get(table, table), {})
        counts[reason] = counts.get(reason, 0) + 1
    assert extracted == {t.name: expected.get(t.name, {}) for t in HOURLY_SNAPSHOT_TABLES}


def test_every_rule_has_a_case():
    covered = {(RAW_NAME.get(table, table), reason) for table, _, reason in CASES}
    rules = {(t.name, reason) for t in HOURLY_SNAPSHOT_TABLES for reason, _ in t.rules}
    assert rules <= covered


def test_the_simulator_only_writes_values_the_rules_accept():
    assert set(population.USER_TYPES) <= set(domain.USER_TYPES)
    assert set(population.CHANNELS) <= set(domain.ACQUISITION_CHANNELS)
    assert set(population.COUNTRY_CODES) <= set(domain.COUNTRY_CODES)
    assert len(domain.COUNTRY_CODES) == 249 and "XX" not in domain.COUNTRY_CODES
    assert "USD" in domain.CURRENCY_CODES and "EXE" not in domain.CURRENCY_CODES
