"""Daily great-expectations checks on raw inputs and the key marts (expectations/warehouse_suites.py).

One multi-asset check, `warehouse_expectations`, on raw/plans, raw/accounts and the MRR and revenue
marts. It reads whole tables, so it runs in its own daily job (04:15 UTC, before the report
schedules) and is kept out of the hourly and dimensions jobs, whose cost must stay flat in history.
It does not block anything (severity WARN: the report gate is what blocks); a failure is shown on
the asset in the UI with the failing rows and mailed to the operator once per distinct failure.
"""

import hashlib

import dagster as dg

from expectations.warehouse_suites import ASSETS
from orchestration.defs.resources import WarehouseResource

CHECK_NAME = "warehouse_expectations"
SPECS = {asset: dg.AssetCheckSpec(CHECK_NAME, asset=dg.AssetKey(list(asset)),
                                  description="great-expectations suite (keys, nulls, ranges, reconciliations)")
         for asset in ASSETS}


@dg.multi_asset_check(specs=list(SPECS.values()), can_subset=True, name=CHECK_NAME)
def warehouse_expectations(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    from expectations.warehouse_suites import validate_warehouse
    from reports.alerts import AlertDeliveryError, send_operator_alert

    selected = {asset for asset, spec in SPECS.items() if spec.key in context.selected_asset_check_keys}
    for asset, (failures, evaluated) in validate_warehouse(warehouse.url, selected).items():
        name = ".".join(asset)
        text = "\n".join([f"{name}: {len(failures)} of {evaluated} expectations failed"]
                         + [f"- {f.describe()}" for f in failures]) if failures else \
            f"{name}: all {evaluated} expectations passed"
        metadata = {"expectations_evaluated": evaluated, "expectations_failed": len(failures)}
        metadata |= {f"failed/{i}": f.describe() for i, f in enumerate(failures[:20], start=1)}
        yield dg.AssetCheckResult(asset_key=dg.AssetKey(list(asset)), check_name=CHECK_NAME, passed=not failures,
                                  severity=dg.AssetCheckSeverity.WARN, description=text, metadata=metadata)
        if failures:
            context.log.warning(text)
            fingerprint = hashlib.sha256(text.encode()).hexdigest()[:16]
            try:
                send_operator_alert(warehouse.url, f"warehouse-expectations:{name}:{fingerprint}",
                                    f"Expectations failed on {name}", text)
            except AlertDeliveryError as exc:
                context.log.error(str(exc))


warehouse_expectations_job = dg.define_asset_job(
    "warehouse_expectations_job",
    selection=dg.AssetSelection.checks(warehouse_expectations),
    description="Daily great-expectations checks on raw inputs and key marts (whole tables).",
)

warehouse_expectations_schedule = dg.ScheduleDefinition(
    name="warehouse_expectations_schedule", job=warehouse_expectations_job, cron_schedule="15 4 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Production: daily at 04:15 UTC, the great-expectations suites over whole raw and mart "
                "tables (warnings in the UI). `make demo` does not run them; the first tick after it does.",
)
