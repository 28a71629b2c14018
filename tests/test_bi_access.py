"""The BI role reads marts and the chosen ml tables and is refused everywhere else; no personal data there."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from orchestration.settings import get_settings
from orchestration.warehouse.bi_role import BI_ML_TABLES
from tests.handmade_source import add_session, seed_accounts
from tests.warehouse_fixtures import WarehouseBuilder


def _one_session(conn: psycopg.Connection) -> None:
    seed_accounts(conn, signup="2026-04-01 00:00+00")
    add_session(conn, 1, 1, "2026-04-01 09:00+00", "2026-04-01 09:30+00")


@pytest.fixture(scope="module")
def bi_url(build_warehouse: WarehouseBuilder) -> str:
    build_warehouse.handmade(datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 4, 2, tzinfo=UTC), _one_session)
    return make_conninfo(**{**conninfo_to_dict(build_warehouse.url), "user": get_settings().bi_role})


@pytest.mark.parametrize("table", ["marts.fct_usage_daily", "marts.fct_usage_hourly",
                                   "marts.dim_accounts", "marts.dim_plans"])
def test_bi_role_reads_marts(bi_url, table):
    with psycopg.connect(bi_url) as conn:
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] >= 1


@pytest.mark.parametrize("table", [f"ml.{t}" for t in BI_ML_TABLES])
def test_bi_role_reads_chosen_ml_tables(bi_url, table):
    with psycopg.connect(bi_url) as conn:
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] >= 0


def test_bi_role_is_granted_exactly_the_chosen_ml_tables(bi_url):
    with psycopg.connect(bi_url) as conn:
        granted = {name for (name,) in conn.execute(
            "SELECT table_name FROM information_schema.role_table_grants"
            " WHERE grantee = current_user AND table_schema = 'ml' AND privilege_type = 'SELECT'")}
        writable = conn.execute(
            "SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = current_user"
            " AND privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')").fetchone()[0]
    assert granted == set(BI_ML_TABLES)
    assert writable == 0


@pytest.mark.parametrize("table", ["raw.accounts", "raw.sessions", "quarantine.sessions",
                                   "raw.snapshot_log", "app.accounts", "public.schema_migrations",
                                   "intermediate.int_account_activity_days", "intermediate.int_account_names"])
def test_bi_role_is_refused_outside_marts(bi_url, table):
    with psycopg.connect(bi_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f"SELECT * FROM {table} LIMIT 1")


def test_no_personal_data_in_marts(bi_url):
    """No owner or account name, no e-mail (tests/test_no_personal_data.py checks every value)."""
    with psycopg.connect(bi_url) as conn:
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema IN ('marts', 'ml')")]
        values = conn.execute("SELECT string_agg(t::text, ' ') FROM marts.dim_accounts t").fetchone()[0]
    assert columns and not [c for c in columns if "email" in c or "owner" in c or c == "account_name"]
    assert "@example.com" not in values and "Jo Doe" not in values and "Acme" not in values
    assert "Account 1" in values  # the pseudonym BI tools show instead
