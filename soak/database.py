"""The soak's own databases on the warehouse server, and the source database's simulated clock.

`SOAK_DATABASE` (default `uap_soak`) holds the warehouse; `<SOAK_DATABASE>_source` holds the
simulated product (schema `app`) and `<SOAK_DATABASE>_dagster` the Dagster instance's runs and
events. All three are dropped and created afresh when a soak starts, and left as they are when it
ends, for inspection.

The source lives in a database of its own because its clock must be the simulated one: the
extraction reads the source's `now()` as the cutoff late-data detection compares recorded_at with.
In the source database a function `soak_clock.now()`, found before `pg_catalog.now()` through the
database's search_path, returns the simulated instant the driver last set; every session on that
database, the platform's included, sees simulated time. The warehouse keeps the real clock (delivery
claims and alert leases are about real processes).
"""

from __future__ import annotations

import os
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from orchestration.settings import get_settings
from orchestration.warehouse.embedded import embedded_warehouse_url

PROTECTED = {"analytics", "uap_test", "uap_bench", "postgres", "template0", "template1"}
CLOCK_SQL = """
CREATE SCHEMA soak_clock;
CREATE TABLE soak_clock.simulated_now (at timestamptz NOT NULL);
CREATE FUNCTION soak_clock.now() RETURNS timestamptz LANGUAGE sql STABLE
    AS 'SELECT at FROM soak_clock.simulated_now';
"""


def soak_database() -> str:
    name = os.environ.get("SOAK_DATABASE") or "uap_soak"
    if name in PROTECTED:
        raise ValueError(f"SOAK_DATABASE={name!r} is not the soak's own database; choose another name")
    return name


def _server_url() -> str:
    settings = get_settings()
    return os.environ.get("SOAK_SERVER_URL") or settings.warehouse_url or embedded_warehouse_url(
        settings.embedded_warehouse_dir)


def _recreate(server: str, name: str) -> str:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_conninfo(**{**conninfo_to_dict(server), "dbname": name})


def fresh_databases() -> tuple[str, str, str]:
    """(warehouse, source, dagster storage) URLs of empty databases; this process and its children
    use the first two through WAREHOUSE_URL and SOURCE_URL."""
    server = _server_url()
    os.environ["SOAK_SERVER_URL"] = server  # the embedded server's URL before WAREHOUSE_URL is repointed
    name = soak_database()
    warehouse = _recreate(server, name)
    source = _recreate(server, f"{name}_source")
    dagster = _recreate(server, f"{name}_dagster")
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(CLOCK_SQL)
        conn.execute(sql.SQL("ALTER DATABASE {} SET search_path = soak_clock, pg_catalog, public").format(
            sql.Identifier(f"{name}_source")))
    os.environ["WAREHOUSE_URL"] = warehouse
    os.environ["SOURCE_URL"] = source
    from orchestration.warehouse.connection import warehouse_url

    warehouse_url.cache_clear()
    return warehouse, source, dagster


def set_source_clock(source_url: str, at: datetime) -> None:
    """Make `now()` on the source database return `at` from now on."""
    with psycopg.connect(source_url, autocommit=True) as conn, conn.transaction():
        conn.execute("DELETE FROM soak_clock.simulated_now")
        conn.execute("INSERT INTO soak_clock.simulated_now VALUES (%s)", (at,))
