"""Shared fixtures: every test talks to a real PostgreSQL server.

The tests use the embedded server (or WAREHOUSE_URL's server when set) but their own database,
`uap_test`, recreated once per session, so a developer's demo data is never touched.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from orchestration.settings import get_settings
from orchestration.warehouse.embedded import embedded_warehouse_url
from tests.warehouse_fixtures import WarehouseBuilder
from tests.warehouse_fixtures import reset_warehouse as reset_warehouse  # modules import it from here

# The tests simulate history at fixed dates from 2026-01-01 on: their partitions start there, whatever
# a local demo recorded or the shell exports (orchestration/settings.py, partitions_start).
os.environ["PARTITIONS_START"] = "2026-01-01"

# Developers running two test sessions at once give each its own database, and so does each
# pytest-xdist worker (`make test` runs two, one test module per worker at a time).
TEST_DATABASE = os.environ.get("TEST_DATABASE", "uap_test") + (
    f"_{os.environ['PYTEST_XDIST_WORKER']}" if "PYTEST_XDIST_WORKER" in os.environ else ""
)


def pytest_configure(config: pytest.Config) -> None:
    """Set up the session as the platform's entry points do (loading the definitions does neither):
    Dagster's event batching (orchestration/dagster_instance.py) and a current dbt manifest, parsed
    when a dbt file changed (orchestration/dbt_project.py). Test modules load the definitions when
    collected, so this runs first; under xdist the controller parses, before its workers start."""
    from orchestration.dagster_instance import apply_event_settings
    from orchestration.dbt_project import prepare_manifest_if_stale

    apply_event_settings()
    if not hasattr(config, "workerinput"):
        prepare_manifest_if_stale()


# `make test` gives whole modules to two xdist workers in collection order (`--dist loadfile
# --no-loadscope-reorder`); these modules, each several minutes of the suite, go first, longest first,
# so that no long module starts last and runs alone while the other worker idles (xdist's default
# order, most tests first, started the 3-test soak near the end). Measured CPU seconds: docs/testing.md.
LONGEST_MODULES_FIRST = (
    "test_bench_smoke.py",
    "test_soak_short.py",
    "test_ui_backfill.py",
    "test_ml_outputs.py",
    "test_customer_marts.py",
    "test_ml_assets.py",
    "test_report_gate.py",
    "test_churn_risk.py",
    "test_revenue_marts.py",
    "test_report_rendering.py",
    "test_late_data.py",
    "test_retention_keeps_marts.py",
    "test_limits_insights.py",
    "test_freshness.py",
    "test_no_personal_data.py",
    "test_semantic_layer.py",
    "test_production_instance.py",
    "test_bi_access.py",
    "test_cli_operations.py",
    "test_concurrency.py",
    "test_usage_marts.py",
    "test_operations.py",
    "test_dagster_internals.py",
    "test_mrr_bridge_home.py",
    "test_run_queueing.py",
    "test_run_monitoring.py",
    "test_duckdb_portability.py",
    "test_public_datasets.py",
    "test_hourly_partition_metadata.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_MODULES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


def _server_url() -> str:
    settings = get_settings()
    return settings.warehouse_url or embedded_warehouse_url(settings.embedded_warehouse_dir)


@pytest.fixture(scope="session")
def warehouse_url() -> Iterator[str]:
    """A fresh, empty database for this test session; also exported as WAREHOUSE_URL."""
    server_url = _server_url()
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (TEST_DATABASE,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}"')
        conn.execute(f'CREATE DATABASE "{TEST_DATABASE}"')
    url = make_conninfo(**{**conninfo_to_dict(server_url), "dbname": TEST_DATABASE})
    previous = {k: os.environ.get(k) for k in ("WAREHOUSE_URL", "SOURCE_URL")}
    os.environ["WAREHOUSE_URL"] = url
    os.environ.pop("SOURCE_URL", None)
    from orchestration.warehouse.connection import warehouse_url as cached_url

    cached_url.cache_clear()
    yield url
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    cached_url.cache_clear()


@pytest.fixture()
def db(warehouse_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(autouse=True)
def _no_disposed_defs_state_storage() -> None:
    """Each test starts without a disposed instance's definitions-state storage current (see
    orchestration/dagster_internals.py, forget_disposed_defs_state_storage): the suite opens and closes
    instances of every fixture scope in one process, and CI saw later tests fail on one left behind."""
    from orchestration.dagster_internals import forget_disposed_defs_state_storage

    forget_disposed_defs_state_storage()


@pytest.fixture(scope="session")
def dagster_instance():
    import dagster as dg

    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture(scope="session")
def build_warehouse(warehouse_url: str, dagster_instance) -> WarehouseBuilder:
    """reset -> write a source -> run every layer, on this session's database (tests/warehouse_fixtures.py)."""
    return WarehouseBuilder(warehouse_url, dagster_instance)
