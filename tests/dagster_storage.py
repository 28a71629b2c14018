"""A Dagster instance's own storage database on the test server, for tests that need PostgreSQL
instance storage (queueing, pools, run monitoring, the production configuration): row locks and
concurrency slots behave as in a deployment only there, not in an ephemeral instance."""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from orchestration.dagster_instance import storage_url


def fresh_storage_url(warehouse_url: str, suffix: str) -> str:
    """Dagster's storage URL of `<test database>_<suffix>`, dropped and created empty."""
    name = f"{conninfo_to_dict(warehouse_url)['dbname']}_{suffix}"
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return storage_url(make_conninfo(warehouse_url, dbname=name))
