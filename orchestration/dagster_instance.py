"""The Dagster instance the platform runs with: its storage and its event-writing settings.

A single-run backfill of 90 days of hours materializes 2,160 partitions of every hourly asset, and
Dagster records one event per partition and asset. On the default SQLite storage each event is its
own write (about 6 ms): 17,000 events cost longer than the extraction itself. So:

- the instance stores runs, events and schedules in PostgreSQL (`dagster-postgres`, the storage a
  Kubernetes deployment uses too), in database `dagster` on the embedded warehouse server;
- `DAGSTER_EVENT_BATCH_SIZE` lets Dagster write a step's materialization events in batches;
- `DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS` records one "planned" event per asset and
  range run instead of one per partition (Dagster's opt-in; the price: when a range run fails, its
  partitions show as missing rather than failed in the UI, and the run itself shows the failure).

Dagster reads both from the environment of the process writing the events (a run's worker; for the
planned events, whichever process creates the run: the CLI, the daemon, the webserver) and has no
instance setting for them. So every entry point sets them before it starts anything: `make` exports
them for all it runs, and `usage-analytics` (orchestration/cli.py), the benchmark and the test
session call `apply_event_settings()`; the processes they start (code server, daemon, run workers)
inherit them. Loading the definitions sets nothing.

It also turns on run monitoring and limits every concurrency pool to one step at a time (see
RUN_MONITORING and CONCURRENCY below, and docs/operations.md).

`python -m orchestration.dagster_instance` (run by `make demo`, `make ui` and `make bench`) starts the
embedded server if needed and writes `$DAGSTER_HOME/dagster.yaml` when it does not exist yet. An
existing dagster.yaml is the operator's and is never rewritten. With WAREHOUSE_URL set, the file
keeps Dagster's default SQLite storage: point `storage` at your PostgreSQL yourself
(docs/operations.md), so that no password is ever written to a file here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from sqlalchemy.engine import URL

from orchestration.warehouse.embedded import create_database_if_missing

EVENT_SETTINGS = {
    "DAGSTER_EVENT_BATCH_SIZE": "1000",
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1",
}
STORAGE_DATABASE = "dagster"
TELEMETRY_OFF = "telemetry:\n  enabled: false\n"
# Run monitoring (the daemon): a run stuck starting or cancelling is failed after 3 minutes, and
# pool slots held by a finished (or failed-as-dead) run are freed a minute after it ended. A
# STARTED run whose process died is not seen by Dagster's default launcher (it cannot check its
# workers): orchestration/defs/run_monitoring.py fails those. Never resumed: a re-run is the fix.
RUN_MONITORING = """run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  cancel_timeout_seconds: 180
  max_resume_run_attempts: 0
  poll_interval_seconds: 60
  free_slots_after_run_end_seconds: 60
"""
# Every pool (orchestration/defs/pools.py) admits one step at a time: two runs writing the same
# raw window or the same dbt models wait for each other instead of colliding.
CONCURRENCY = "concurrency:\n  pools:\n    default_limit: 1\n"


def apply_event_settings() -> None:
    """Batch event writes in this process, and the processes it starts, unless the environment
    already says otherwise. For entry points only (see the module docstring)."""
    for name, value in EVENT_SETTINGS.items():
        os.environ.setdefault(name, value)


def ensure_database(server_url: str, name: str) -> str:
    """Create database `name` on the server of `server_url` if missing; return its URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        create_database_if_missing(conn, name)
    return make_conninfo(server_url, dbname=name)


def storage_url(conninfo: str) -> str:
    """A libpq connection string as the SQLAlchemy URL dagster-postgres takes (psycopg2 driver).

    The embedded server listens on a unix socket: its directory goes in the `host` query parameter.
    """
    parts = conninfo_to_dict(conninfo)
    host = str(parts.get("host") or "localhost")
    on_socket = host.startswith("/")
    url = URL.create(
        "postgresql+psycopg2",
        username=str(parts.get("user") or "postgres"),
        password=parts.get("password") or None,
        host=None if on_socket else host,
        port=None if on_socket or not parts.get("port") else int(parts["port"]),
        database=str(parts.get("dbname") or STORAGE_DATABASE),
        query={"host": host, **({"port": str(parts["port"])} if parts.get("port") else {})} if on_socket else {},
    )
    return url.render_as_string(hide_password=False)


def instance_yaml(postgres_url: str | None = None, *, url_env: str | None = None) -> str:
    """dagster.yaml: telemetry off (no network at run time), run monitoring, one-at-a-time pools
    and, given one, PostgreSQL storage.

    `url_env` names an environment variable holding the URL instead of writing it into the file.
    """
    settings = TELEMETRY_OFF + RUN_MONITORING + CONCURRENCY
    if postgres_url is None and url_env is None:
        return settings
    value = f"{{env: {url_env}}}" if url_env else f'"{postgres_url}"'
    return settings + f"storage:\n  postgres:\n    postgres_url: {value}\n"


def ensure_instance_config(home: Path) -> Path:
    """Write `home/dagster.yaml` unless it exists (see the module docstring); return its path."""
    from orchestration.settings import get_settings
    from orchestration.warehouse.connection import warehouse_url

    path = home / "dagster.yaml"
    server = warehouse_url()  # starts the embedded server when WAREHOUSE_URL is unset
    if path.exists():
        return path
    home.mkdir(parents=True, exist_ok=True)
    if get_settings().warehouse_url:
        path.write_text(instance_yaml())
    else:
        path.write_text(instance_yaml(storage_url(ensure_database(server, STORAGE_DATABASE))))
    return path


def main() -> int:
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        print("DAGSTER_HOME is not set: nothing to configure", file=sys.stderr)
        return 2
    import dagster as dg

    from orchestration.defs.pools import initialize_pools

    path = ensure_instance_config(Path(home))
    with dg.DagsterInstance.from_config(home) as instance:
        initialize_pools(instance)
    print(f"Dagster instance: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
