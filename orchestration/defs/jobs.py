"""Jobs: one per partitioning, so each run (and each backfill range) is one set-based pass."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.dbt_models import (
    dbt_daily_models,
    dbt_foundation_models,
    dbt_hourly_models,
    dbt_monthly_models,
)
from orchestration.defs.partitions import daily_partitions, hourly_partitions, monthly_partitions
from orchestration.defs.snapshots import hourly_source_snapshot, raw_plans
from orchestration.defs.warehouse_checks import warehouse_expectations

# Run tag the production run queue limits by (deploy/dagster.yaml, concurrency.runs.tag_concurrency_limits):
# runs that invoke dbt, and report runs (rendering and SMTP delivery). Automation-launched runs carry no
# job tags; pools (orchestration/defs/pools.py) queue those.
RUN_QUEUE_TAG = "usage-analytics/run-queue"
DBT_RUN_TAGS = {RUN_QUEUE_TAG: "dbt"}
REPORT_RUN_TAGS = {RUN_QUEUE_TAG: "reports"}

# Whole-table expectations run in their own daily job, never in the hourly path.
_DAILY_ONLY_CHECKS = dg.AssetSelection.checks(warehouse_expectations)

hourly_snapshot_job = dg.define_asset_job(
    "hourly_snapshot_job",
    selection=dg.AssetSelection.assets(hourly_source_snapshot, dbt_hourly_models) - _DAILY_ONLY_CHECKS,
    partitions_def=hourly_partitions,
    tags=DBT_RUN_TAGS,
    description="Snapshot an hour window of the source into raw and rebuild fct_usage_hourly.",
)

dimensions_job = dg.define_asset_job(
    "dimensions_job",
    selection=dg.AssetSelection.assets(raw_plans, dbt_foundation_models) - _DAILY_ONLY_CHECKS,
    tags=DBT_RUN_TAGS,
    description="Refresh the plan catalogue and rebuild the unpartitioned marts (dimensions, business marts).",
)

daily_rollup_job = dg.define_asset_job(
    "daily_rollup_job",
    selection=dg.AssetSelection.assets(dbt_daily_models),
    partitions_def=daily_partitions,
    tags=DBT_RUN_TAGS,
)

monthly_rollup_job = dg.define_asset_job(
    "monthly_rollup_job",
    selection=dg.AssetSelection.assets(dbt_monthly_models),
    partitions_def=monthly_partitions,
    tags=DBT_RUN_TAGS,
)

ml_job = dg.define_asset_job(
    "ml_job",
    selection=dg.AssetSelection.groups("ml"),
    description="Models and forecasts over the marts (daily at 03:00 by automation).",
)
