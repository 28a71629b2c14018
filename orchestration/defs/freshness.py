"""Freshness: is the data the operator sees recent enough? Asset checks, a sensor, and alerts.

- Hourly layer (raw snapshot tables, fct_usage_hourly): stale when its newest data is older than
  2 hours. The snapshot reports its data time (the end of the newest snapshotted hour) as
  `dagster/last_updated_timestamp`, so a backfill of old hours does not make stale data look
  fresh; fct_usage_hourly is judged by when it was last rebuilt.
- Daily and monthly rollups, and each report: their latest complete period must be materialized
  by a deadline (an hour or two after the job that builds it). Until a period's deadline, the
  period before it is the one expected (orchestration/report_deadlines.py names it, and `make
  demo` builds it, so no check fails after a demo however soon after midnight it ran).
Dagster's freshness checks (WARN severity) show on each asset in the UI; the freshness sensor
evaluates them whenever one may have changed state, and `freshness_checks_job` evaluates all of
them on demand. The stale-data alert sensor mails the operator once per incident (an asset
staying stale since the same update) through reports.alerts.send_operator_alert.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

import dagster as dg

from orchestration.dagster_internals import latest_check_evaluation
from orchestration.defs.dbt_models import dbt_daily_models, dbt_hourly_models, dbt_monthly_models
from orchestration.defs.reports import catalogue, report_artifacts_key
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.snapshots import hourly_source_snapshot
from orchestration.report_deadlines import REPORT_DEADLINE_AFTER_PERIOD, deadline_cron

HOURLY_MAX_AGE = timedelta(hours=2)
# Deadlines (UTC) for the latest complete period: after the automation/schedule that builds it.
ROLLUP_DEADLINES = {"daily": "0 2 * * *", "monthly": "0 3 1 * *"}
REPORT_DEADLINES = {kind: deadline_cron(kind) for kind in REPORT_DEADLINE_AFTER_PERIOD}

# Dagster 1.13 supersedes these builders with FreshnessPolicy, which judges an asset as a whole: it
# could replace the hourly check, but has no per-partition deadline ("yesterday's partition by
# 02:00"), which is what the rollups and reports promise. The builders stay, deliberately, as one
# mechanism that the stale-data alert sensor reads, and their notice is not repeated on every load.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.SupersessionWarning)
    hourly_freshness_checks = dg.build_last_update_freshness_checks(
        assets=[hourly_source_snapshot, dbt_hourly_models], lower_bound_delta=HOURLY_MAX_AGE)
    rollup_freshness_checks = [
        *dg.build_time_partition_freshness_checks(assets=[dbt_daily_models], deadline_cron=ROLLUP_DEADLINES["daily"]),
        *dg.build_time_partition_freshness_checks(assets=[dbt_monthly_models],
                                                  deadline_cron=ROLLUP_DEADLINES["monthly"]),
    ]
    report_freshness_checks = [
        check
        for kind, deadline in REPORT_DEADLINES.items()
        if (keys := [report_artifacts_key(s.id) for s in catalogue.values() if s.schedule == kind])
        for check in dg.build_time_partition_freshness_checks(assets=keys, deadline_cron=deadline)
    ]
    freshness_checks = [*hourly_freshness_checks, *rollup_freshness_checks, *report_freshness_checks]

    freshness_checks_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=freshness_checks,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )


freshness_checks_job = dg.define_asset_job(
    "freshness_checks_job",
    selection=dg.AssetSelection.checks(*freshness_checks),
    description="Evaluate every freshness check now (the freshness sensor does this as checks fall due).",
)


def freshness_check_keys() -> list[dg.AssetCheckKey]:
    return sorted((spec.key for c in freshness_checks for spec in c.check_specs), key=lambda k: k.to_user_string())


def stale_incident(key: dg.AssetCheckKey, evaluation: dg.AssetCheckEvaluation) -> tuple[str, str, str]:
    """(incident key, subject, body) for a failed freshness check.

    The incident is the asset being stale since its last update (or, for period checks, since
    the deadline that passed): evaluating the same stale state again is the same incident.
    """
    metadata = evaluation.metadata
    since = metadata.get("dagster/last_updated_timestamp") or metadata.get("dagster/latest_cron_tick_timestamp")
    anchor = f"{since.value:.0f}" if since is not None else "never-updated"
    asset = key.asset_key.to_user_string()
    subject = f"Stale data: {asset}"
    body = (f"The freshness check {key.to_user_string()} failed.\n\n{evaluation.description or ''}\n\n"
            "Open the asset in the Dagster UI (Checks tab) for its history; the hourly schedule, the "
            "rollup automation or the report schedule that builds it may be stopped or failing.")
    return f"stale:{asset}:{anchor}", subject, body


@dg.sensor(minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Mail the operator once per stale-data incident (failed freshness check).")
def stale_data_alert_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SkipReason:
    from reports.alerts import send_operator_alert

    outcomes = []
    for key in freshness_check_keys():
        latest = latest_check_evaluation(context.instance, key)
        if latest is None or latest.evaluation.passed:
            continue
        incident, subject, body = stale_incident(key, latest.evaluation)
        outcomes.append(f"{incident}: {send_operator_alert(warehouse.url, incident, subject, body)}")
    return dg.SkipReason("; ".join(outcomes) or "no stale data")
