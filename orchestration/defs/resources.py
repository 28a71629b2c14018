"""Connections to the warehouse and the source, as Dagster resources.

Both default to environment configuration (WAREHOUSE_URL, SOURCE_URL, or the embedded server),
resolved when a run starts rather than at import, so loading definitions never touches a
database. The warehouse is migrated, and the BI role ensured, when a run starts.
"""

from __future__ import annotations

import dagster as dg

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

