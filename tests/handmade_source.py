"""Tiny hand-written source datasets for tests whose expected values are worked out by hand."""

from __future__ import annotations

import psycopg

from orchestration.settings import PROJECT_ROOT

SOURCE_SCHEMA = PROJECT_ROOT / "orchestration" / "source" / "schema.sql"


def seed_accounts(conn: psycopg.Connection, signup: str = "2026-03-01 00:00+00") -> None:
    conn.execute(SOURCE_SCHEMA.read_text())
    conn.execute(
        "INSERT INTO app.plans VALUES ('pro', 'Pro', 2, 29, 290, 1000, 200, 5000, 100, "
        "0.05, 0.1, 0.01, 0.2, 14, %s)",
        (signup,),
    )
    conn.execute(
        "INSERT INTO app.accounts VALUES "
        "(1, 'Acme', 'Jo Doe', 'jo@example.com', 'team', 'US', 'America/New_York', 'organic', %s, %s), "
        "(2, 'Beta', 'Al Roe', 'al@example.com', 'individual', 'DE', 'Europe/Berlin', 'referral', %s, %s)",
        (signup, signup, signup, signup),
    )


def add_session(conn: psycopg.Connection, session_id: int, account_id: int, start: str, end: str,
                recorded: str | None = None, minutes: float = 10) -> None:
    conn.execute(
        "INSERT INTO app.sessions VALUES (%s, %s, %s, %s, %s, %s, 'completed', "
        "coalesce(%s::timestamptz, %s::timestamptz + interval '5 seconds'))",
        (session_id, account_id, start, end, minutes, minutes, recorded, end),
    )


def load_raw_owners(url: str, owners: dict[int, tuple[str, str | None]]) -> None:
    """raw.accounts rows with these (account name, owner e-mail) on a fresh warehouse: delivery
    reads only names and addresses, so its tests need no snapshot."""
    from tests.conftest import reset_warehouse

    reset_warehouse(url)
    with psycopg.connect(url, autocommit=True) as conn:
        for account_id, (name, email) in owners.items():
            conn.execute(
                "INSERT INTO raw.accounts (account_id, account_name, owner_name, owner_email, user_type, country,"
                " timezone, acquisition_channel, signup_at, recorded_at)"
                " VALUES (%s, %s, 'Owner', %s, 'business', 'DE', 'UTC', 'organic', now(), now())",
                (account_id, name, email))
