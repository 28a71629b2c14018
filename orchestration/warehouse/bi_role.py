"""The read-only role BI tools connect as.

It may read the `marts` schema and nothing else: no USAGE on raw, quarantine, the source or any
other schema is ever granted, so those are refused. Table-level SELECT is granted by dbt
(`+grants` in dbt_project.yml) each time a mart is built; this module creates the role and lets
it into the schema. The role is cluster-wide, so concurrent starts may race to create it.
"""

from __future__ import annotations

import contextlib

import psycopg
from psycopg import sql


def ensure_bi_role(url: str, role: str, password: str | None = None) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if not exists:
            # another process may create it first
            with contextlib.suppress(psycopg.errors.DuplicateObject):
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        if password:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
            )
        dbname = conn.info.dbname
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(dbname), sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA marts TO {}").format(sql.Identifier(role)))
