"""Where the warehouse and the source database are, and how to connect to them."""

from __future__ import annotations

import functools
import os

import psycopg
from psycopg.conninfo import conninfo_to_dict

from orchestration.settings import get_settings
from orchestration.warehouse.embedded import embedded_warehouse_url


@functools.cache
def warehouse_url() -> str:
    """WAREHOUSE_URL when set, else the embedded server (started on first use)."""
    settings = get_settings()
    return settings.warehouse_url or embedded_warehouse_url(settings.embedded_warehouse_dir)


def source_url() -> str:
    """SOURCE_URL when set; else the demo source lives in the warehouse database, schema `app`."""
    return get_settings().source_url or warehouse_url()


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """Every session runs in UTC, so hour and day boundaries mean the same everywhere."""
    return psycopg.connect(url, autocommit=autocommit, options="-c timezone=UTC")


def dbt_env(url: str) -> dict[str, str]:
    """The connection split into the variables `dbt_project/profiles.yml` reads.

    dbt-postgres wants host/port/user/password/dbname separately; a unix-socket URL (the embedded
    server) carries its socket directory as `host`, which libpq accepts as a host too.
    """
    parts = conninfo_to_dict(url)
    return {
        "DBT_PG_HOST": str(parts.get("host") or "localhost"),
        "DBT_PG_PORT": str(parts.get("port") or 5432),
        "DBT_PG_USER": str(parts.get("user") or os.environ.get("USER", "postgres")),
        "DBT_PG_PASSWORD": str(parts.get("password") or ""),
        "DBT_PG_DBNAME": str(parts.get("dbname") or "postgres"),
        # Session time zone for date_trunc and date casts: UTC whatever the server default.
        "PGTZ": "UTC",
    }
