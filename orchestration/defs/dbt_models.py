"""dbt models as Dagster assets, one @dbt_assets per partitioning of the models.

Models are chosen by dbt tag (hourly, daily, monthly); everything else (staging views and
dimensions) is unpartitioned. Each partitioned group runs a whole backfill range as one dbt
invocation over the range's window (single-run backfill policy): concurrent partition runs
would collide on dbt's temporary tables, and one set-based pass is far cheaper.
"""

import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.dbt_project import PARTIAL_PARSE, dbt_project
from orchestration.defs.dbt_window import WINDOW_ENV, dbt_build_args, dbt_window_env
from orchestration.defs.partitions import daily_partitions, hourly_partitions, monthly_partitions
from orchestration.defs.pools import dbt_pool, warehouse_lock
from orchestration.defs.resources import WarehouseResource
from orchestration.warehouse.connection import dbt_env

# Loading the definitions reads the manifest and never writes it (orchestration/dbt_project.py).
if not dbt_project.manifest_path.exists():
    raise FileNotFoundError(
        f"dbt manifest {dbt_project.manifest_path} not found: parse the dbt project first with "
        "`make manifest` (python -m orchestration.dbt_project)")

PARTITION_TAGS = ("hourly", "daily", "monthly")

# Rollups follow their upstream, however old the change: a day or month partition is requested
# when one of its upstream partitions was materialized after the tick it was last handled
# (requested or materialized), or when the partition comes into existence (its period ended). No
# time-window limit: a UI backfill of an hour in March reaches March's day and month. Only
# partitions whose upstream changed are candidates, so a quiet tick requests nothing.
# - A month waits while one of its days is missing, in progress or requested on this same tick
#   (Dagster's any_deps_updated would also fire on a day merely requested now): it is built once,
#   after the day, from the day's new rows.
# - "Handled" leaves out the initial evaluation (Dagster's since_last_handled counts it): a fresh
#   instance's first tick requests the partitions that are missing with every upstream partition
#   present (nothing else: history already built is not missing, and periods before the data
#   starts have missing hours), so a crash between a day's end and its first tick loses nothing.
# - A failed run counts as handled: the partition is retried on its next upstream change (or by
#   an operator), never in a loop on every tick; the failure is alerted (alerts.py).
upstream_materialized = dg.AutomationCondition.any_deps_match(
    dg.AutomationCondition.newly_updated() & ~dg.AutomationCondition.executed_with_root_target()
).with_label("any_deps_materialized")
handled = (dg.AutomationCondition.newly_requested() | dg.AutomationCondition.newly_updated()).with_label(
    "requested_or_materialized"
)
upstream_not_settled = dg.AutomationCondition.any_deps_match(
    dg.AutomationCondition.missing()
    | dg.AutomationCondition.in_progress()
    | dg.AutomationCondition.will_be_requested()
).with_label("any_deps_missing_in_progress_or_requested")

follows_upstream = (
    (dg.AutomationCondition.newly_missing() | upstream_materialized).since(handled)
    & ~upstream_not_settled
    & ~dg.AutomationCondition.in_progress()
).with_label("follows_upstream")


# Unpartitioned marts (dimensions, business marts) read across all partitions of their inputs,
# some of which are always missing (before the data starts), so "eager" would wait forever:
# they are rebuilt once an hour instead, after the hourly snapshot has landed.
rebuilt_hourly = (
    dg.AutomationCondition.cron_tick_passed("20 * * * *", "UTC").since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("rebuilt_hourly")


class UsageDbtTranslator(DagsterDbtTranslator):
    """Asset keys mirror warehouse names (schema/table), so a table is found by its name."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["config"]["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_resource_props["fqn"][1] if len(dbt_resource_props["fqn"]) > 2 else "dbt"

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        tags = dbt_resource_props.get("tags", [])
        if "hourly" in tags:
            return None  # driven by the hourly schedule together with the snapshot
        if any(tag in tags for tag in PARTITION_TAGS):
            return follows_upstream
        return rebuilt_hourly


translator = UsageDbtTranslator()


def _run_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse_url: str, layer: str) -> Iterator:
    os.environ.update(dbt_env(warehouse_url))
    window = context.partition_time_window if context.assets_def.partitions_def else None
    for name in WINDOW_ENV:  # an unpartitioned run must not inherit an earlier run's window
        os.environ.pop(name, None)
    os.environ.update(dbt_window_env(window.start if window else None, window.end if window else None))
    with warehouse_lock(warehouse_url, dbt_pool(layer)):  # orchestration/defs/pools.py
        invocation = dbt.cli(dbt_build_args(), context=context)
        yield from invocation.stream()
    keep_parse_state(invocation.target_path)


def keep_parse_state(run_target: Path) -> None:
    """Hand a successful invocation's parse state to the next one, and drop its target folder.

    dagster-dbt gives every invocation a target folder of its own, seeded with the project's
    `target/partial_parse.msgpack`. That file was written by `dbt parse` under whatever profile
    was set when the manifest was prepared; dbt discards it when the connection differs (another
    warehouse or database) and parses the whole project again: 4-5 s on every hourly run. The run's
    own state matches the warehouse the runs use, so it replaces the project's (atomically: runs
    finish concurrently). The folder itself (manifest, compiled SQL, 2-5 MB) would otherwise pile
    up at two per hour forever; Dagster's event log keeps what the run did. A failed invocation
    raises before this and keeps its folder for inspection.
    """
    state = run_target / PARTIAL_PARSE
    if state.exists():
        staged = dbt_project.project_dir / dbt_project.target_path / f".{PARTIAL_PARSE}.{os.getpid()}"
        shutil.copyfile(state, staged)
        os.replace(staged, staged.with_name(PARTIAL_PARSE))
    shutil.rmtree(run_target, ignore_errors=True)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    exclude=" ".join(f"tag:{tag}" for tag in PARTITION_TAGS),
    dagster_dbt_translator=translator,
    name="dbt_foundation_models",
    pool=dbt_pool("foundation"),
)
def dbt_foundation_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
):
    """Dimensions and business marts: unpartitioned, rebuilt whole (staging and intermediate models
    are inlined, except int_account_activity_days, a daily model)."""
    yield from _run_dbt(context, dbt, warehouse.url, "foundation")


def _partitioned_dbt_models(tag: str, partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The models carrying `tag`, on `partitions_def`; a backfill range is one dbt invocation."""

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        select=f"tag:{tag}",
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        dagster_dbt_translator=translator,
        name=f"dbt_{tag}_models",
        pool=dbt_pool(tag),
    )
    def models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
        yield from _run_dbt(context, dbt, warehouse.url, tag)

    return models


dbt_hourly_models = _partitioned_dbt_models("hourly", hourly_partitions)
dbt_daily_models = _partitioned_dbt_models("daily", daily_partitions)
dbt_monthly_models = _partitioned_dbt_models("monthly", monthly_partitions)
