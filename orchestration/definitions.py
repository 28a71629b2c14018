"""The Dagster code location: `orchestration.definitions:defs` loads everything.

Loading it only builds definitions: the same ones in every environment, with no change to the
process (environment variables, PATH) and no file written. What a process needs first is set up by
its entry point: the dbt manifest (orchestration/dbt_project.py) and the event-writing settings
(orchestration/dagster_instance.py).
"""

from __future__ import annotations

import dagster as dg

from orchestration.dagster_internals import InstalledDbtCliResource
from orchestration.dbt_project import dbt_project, installed_dbt
from orchestration.defs.alerts import operator_alert_on_run_failure
from orchestration.defs.dbt_models import (
    dbt_daily_models,
    dbt_foundation_models,
    dbt_hourly_models,
    dbt_monthly_models,
)
from orchestration.defs.demo_source import demo_source_activity_job, demo_source_activity_schedule
from orchestration.defs.freshness import (
    freshness_checks,
    freshness_checks_job,
    freshness_checks_sensor,
    stale_data_alert_sensor,
)
from orchestration.defs.jobs import (
    daily_rollup_job,
    dimensions_job,
    hourly_snapshot_job,
    ml_job,
    monthly_rollup_job,
)
from orchestration.defs.ml_account_forecasts import ml_account_forecast_assets
from orchestration.defs.ml_accounts import ml_account_assets
from orchestration.defs.ml_checks import ml_asset_checks
from orchestration.defs.ml_churn import ml_churn_assets
from orchestration.defs.ml_forecasts import ml_forecast_assets
from orchestration.defs.operations import operation_jobs, retention_schedule
from orchestration.defs.report_checks import report_input_checks
from orchestration.defs.report_delivery import report_delivery_assets
from orchestration.defs.reports import catalogue as report_catalogue
from orchestration.defs.reports import report_assets, report_jobs, report_schedules
from orchestration.defs.resources import SourceResource, WarehouseResource
from orchestration.defs.run_monitoring import dead_run_sensor
from orchestration.defs.schedules import hourly_snapshot_schedule
from orchestration.defs.snapshots import hourly_row_accounting, hourly_source_snapshot, raw_plans
from orchestration.defs.warehouse_checks import (
    warehouse_expectations,
    warehouse_expectations_job,
    warehouse_expectations_schedule,
)

jobs = [
    hourly_snapshot_job,
    dimensions_job,
    daily_rollup_job,
    monthly_rollup_job,
    ml_job,
    *report_jobs.values(),
    warehouse_expectations_job,
    *operation_jobs,
    freshness_checks_job,
    demo_source_activity_job,
]
schedules = [
    hourly_snapshot_schedule,
    *report_schedules,
    warehouse_expectations_schedule,
    retention_schedule,
    demo_source_activity_schedule,
]

defs = dg.Definitions(
    assets=[
        hourly_source_snapshot,
        raw_plans,
        dbt_foundation_models,
        dbt_hourly_models,
        dbt_daily_models,
        dbt_monthly_models,
        *ml_forecast_assets,
        *ml_churn_assets,
        *ml_account_assets,
        *ml_account_forecast_assets,
        *report_assets,
        *report_delivery_assets(report_catalogue),
    ],
    asset_checks=[
        *ml_asset_checks,
        *freshness_checks,
        *report_input_checks(report_catalogue),
        warehouse_expectations,
        hourly_row_accounting,
    ],
    jobs=jobs,
    schedules=schedules,
    sensors=[
        operator_alert_on_run_failure,
        dead_run_sensor,
        dg.AutomationConditionSensorDefinition(
            "rollup_automation_sensor",
            target=dg.AssetSelection.all(),
            default_status=dg.DefaultSensorStatus.RUNNING,
        ),
        freshness_checks_sensor,
        stale_data_alert_sensor,
    ],
    resources={
        "dbt": InstalledDbtCliResource(project_dir=dbt_project, dbt_executable=installed_dbt()),
        "warehouse": WarehouseResource(),
        "source": SourceResource(),
    },
)
