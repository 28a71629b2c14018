"""The benchmark's own database on the warehouse server: never the demo's, never a test's.

`BENCH_DATABASE` (default `uap_bench`) is dropped and created afresh for each phase, on the server
of WAREHOUSE_URL or the embedded one. The source (schema `app`) lives in the same database, as in
the demo, and every child process gets the database through WAREHOUSE_URL.
"""

from __future__ import annotations

import functools
import os

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from orchestration.settings import get_settings
from orchestration.warehouse.embedded import embedded_warehouse_url

PROTECTED = {"analytics", "uap_test", "postgres", "template0", "template1"}


def bench_database() -> str:
    name = get_settings().bench_database
    server_db = conninfo_to_dict(_server_url()).get("dbname")
    if name in PROTECTED or name == server_db:
        raise ValueError(f"BENCH_DATABASE={name!r} is not the benchmark's own database; choose another name")
    return name


@functools.cache
def _server_url() -> str:
    """The server as configured when the benchmark started (fresh_database then repoints WAREHOUSE_URL)."""
    settings = get_settings()
    return settings.warehouse_url or embedded_warehouse_url(settings.embedded_warehouse_dir)


def _recreate(name: str) -> str:
    server = _server_url()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_conninfo(**{**conninfo_to_dict(server), "dbname": name})


def fresh_dagster_storage() -> str:
    """An empty database `<BENCH_DATABASE>_dagster` for a Dagster instance's runs and events."""
    return _recreate(f"{bench_database()}_dagster")


def fresh_database() -> str:
    """Drop and create the benchmark database; point this process (and its children) at it."""
    url = _recreate(bench_database())
    os.environ["WAREHOUSE_URL"] = url
    os.environ.pop("SOURCE_URL", None)
    from orchestration.warehouse.connection import warehouse_url

    warehouse_url.cache_clear()
    return url
