"""Versioned schema migrations for the warehouse.

Schemas and the Python-owned tables (raw, quarantine, reports, ml) are created here and only
here, in numbered SQL files applied once each, in order, inside one transaction per file. An
advisory lock lets the demo, the UI and tests start concurrently without applying a file twice.
dbt owns the tables it builds; it never runs DDL for these.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_LOCK_ID = 72_410_001


def migrate(url: str) -> list[str]:
    """Apply every migration not yet recorded in public.schema_migrations; return their names."""
    applied_now: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS public.schema_migrations ("
                " version text PRIMARY KEY, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            rows = conn.execute("SELECT version, checksum FROM public.schema_migrations").fetchall()
            applied = dict(rows)
            for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
                checksum = hashlib.sha256(path.read_bytes()).hexdigest()
                if path.stem in applied:
                    if applied[path.stem] != checksum:
                        log.warning("Migration %s changed after it was applied", path.name)
                    continue
                with conn.transaction():
                    conn.execute(path.read_text())
                    conn.execute(
                        "INSERT INTO public.schema_migrations (version, checksum) VALUES (%s, %s)",
                        (path.stem, checksum),
                    )
                log.info("Applied migration %s", path.name)
                applied_now.append(path.stem)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return applied_now
