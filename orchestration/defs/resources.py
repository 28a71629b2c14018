"""Connections to the warehouse and the source, as Dagster resources.

Both default to environment configuration (WAREHOUSE_URL, SOURCE_URL, or the embedded server),
resolved when a run starts rather than at import, so loading definitions never touches a
database. The warehouse is migrated, and the BI role ensured, when a run starts.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from functools import cached_property

import dagster as dg
from dagster_dbt import DbtCliResource
from packaging import version

from orchestration.defs.pools import warehouse_lock
from orchestration.settings import get_settings
from orchestration.warehouse.bi_role import ensure_bi_role
from orchestration.warehouse.connection import source_url, warehouse_url
from orchestration.warehouse.migrate import migrate


class WarehouseResource(dg.ConfigurableResource):
    """The analytics warehouse (PostgreSQL)."""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        settings = get_settings()
        with warehouse_lock(warehouse_url(), "warehouse_setup"):  # runs starting together take turns
            migrate(warehouse_url())
            ensure_bi_role(warehouse_url(), settings.bi_role, settings.bi_role_password)

    @property
    def url(self) -> str:
        return warehouse_url()


class SourceResource(dg.ConfigurableResource):
    """The product's operational database, read-only for the platform."""

    @property
    def url(self) -> str:
        return source_url()


class InstalledDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource without two fixed costs it pays on every dbt invocation.

    - It learns the dbt version by running `dbt --version` in a subprocess (about 1.2 s: each
      hourly tick, each backfill layer). dbt-core is installed in this environment
      (pyproject.toml), so its package metadata has the same answer.
    - It loads the project's macros into an in-process dbt adapter (about 0.6 s), used only to
      fetch row counts and column metadata, which the platform's dbt assets do not ask for.
    Both replace private members of dagster-dbt, whose version is pinned (pyproject.toml);
    tests/test_pure_logic.py checks the version, and every dbt asset test runs through this class.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None
