"""The embedded PostgreSQL server used when no WAREHOUSE_URL is configured.

pgserver ships PostgreSQL binaries inside its wheel, so a fresh machine needs nothing but Python.
The server is started once and left running (cleanup_mode=None) so that the demo, the Dagster
UI, dbt and the tests all reuse the same data directory instead of racing to start their own.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

DATABASE = "analytics"


def embedded_warehouse_url(data_dir: Path) -> str:
    """Start (or attach to) the embedded server under `data_dir` and return its URL."""
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    admin_url = server.get_uri("postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    url = server.get_uri(DATABASE)
    log.info("Using the embedded PostgreSQL warehouse in %s (%s)", data_dir, url)
    return url
