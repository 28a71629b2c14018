"""The embedded PostgreSQL server used when no WAREHOUSE_URL is configured.

pgserver ships PostgreSQL binaries inside its wheel, so a fresh machine needs nothing but Python.
The server is started once and left running (cleanup_mode=None) so that the demo, the Dagster
UI, dbt and the tests all reuse the same data directory instead of racing to start their own.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

DATABASE = "analytics"

# Bulk loads (a backfill writes ~1 GB of WAL per 10M rows) would otherwise force a checkpoint every
# 1 GB of WAL, each followed by a wave of full-page writes; PostgreSQL's guide to populating a
# database recommends raising these. Both take effect on reload, no restart needed.
BULK_LOAD_SETTINGS = {"max_wal_size": "4GB", "checkpoint_timeout": "15min"}


def _tune_for_bulk_loads(conn: psycopg.Connection) -> None:
    """Apply BULK_LOAD_SETTINGS where the server differs (current_setting shows them as written)."""
    stale = [
        name for name, value in BULK_LOAD_SETTINGS.items()
        if conn.execute("SELECT current_setting(%s)", (name,)).fetchone()[0] != value
    ]
    for name in stale:
        conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(
            sql.Identifier(name), sql.Literal(BULK_LOAD_SETTINGS[name])))
    if stale:
        conn.execute("SELECT pg_reload_conf()")
        log.info("Embedded warehouse tuned for bulk loads: %s", BULK_LOAD_SETTINGS)


def create_database_if_missing(conn: psycopg.Connection, name: str) -> None:
    """CREATE DATABASE unless it exists; two processes starting together (test workers, the UI and
    a CLI) may both try, and the loser's duplicate is not an error."""
    if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
        return
    with contextlib.suppress(psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def embedded_warehouse_url(data_dir: Path) -> str:
    """Start (or attach to) the embedded server under `data_dir` and return its URL."""
    # pgserver keeps its lock under platformdirs' runtime dir; without XDG_RUNTIME_DIR (cron, CI,
    # containers) platformdirs warns on every command and falls back to /tmp/runtime-<uid>. Naming
    # that same fallback keeps every process on one lock, without the warning.
    if "XDG_RUNTIME_DIR" not in os.environ:
        runtime_dir = Path(f"/tmp/runtime-{os.getuid()}")
        runtime_dir.mkdir(mode=0o700, exist_ok=True)
        if runtime_dir.stat().st_uid == os.getuid():
            runtime_dir.chmod(0o700)
            os.environ["XDG_RUNTIME_DIR"] = str(runtime_dir)
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    admin_url = server.get_uri("postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        _tune_for_bulk_loads(conn)
        create_database_if_missing(conn, DATABASE)
    url = server.get_uri(DATABASE)
    log.info("Using the embedded PostgreSQL warehouse in %s (%s)", data_dir, url)
    return url
