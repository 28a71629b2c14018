"""Report schedules: every period once, as soon as the data it reads is built.

A period is due after the nightly models (04:30 daily, 04:40 weekly, 04:50 monthly, UTC), but the
rollups it reads may not be there yet: an hourly run of the period's last hours failed or was
killed, the warehouse was down, late data is being rebuilt. Sending then would mail a report with
missing days, and a schedule that fires once would never send the period again. So each schedule
ticks every hour from its due time to the end of the day (daily) or every day of the period that
follows (weekly, monthly), and requests the latest complete period only when every time-partitioned
upstream asset has each of the period's partitions materialized and none of them is being built;
until then the tick is skipped, saying what it waits for (the UI shows it). The run key
(`<kind>:<period>`) makes the request once: Dagster launches a schedule's run key only once, so the
ticks after it do nothing. A daily period whose data is still not built at 23:30 the next day is
left to the operator, who has had the failure alerts by then (`usage-analytics report`).
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from orchestration.defs.jobs import REPORT_RUN_TAGS

# minute of the hour, hours and days of the ticks; the first tick is the period's due time
TICKS = {"daily": "30 4-23 * * *", "weekly": "40 4-23 * * *", "monthly": "50 4-23 * * *"}


def waiting_for(instance: dg.DagsterInstance, upstream: Mapping[dg.AssetKey, dg.TimeWindowPartitionsDefinition],
                window: dg.TimeWindow) -> list[str]:
    """What of `upstream` (the time-partitioned inputs; unpartitioned marts and models are rebuilt
    whole, hourly or nightly) is not built for `window`: partitions never materialized, being built,
    or whose last build failed (Dagster's per-partition status, as the UI shows it)."""
    waiting = []
    for key, partitions in upstream.items():
        needed = partitions.get_partition_keys_in_time_window(window)
        status = instance.get_status_by_partition(key, needed, partitions) or {}
        not_built: dict[str, list[str]] = {}
        for partition in needed:
            state = status.get(partition)
            if state != dg.AssetPartitionStatus.MATERIALIZED:
                not_built.setdefault(state.value.lower().replace("_", " ") if state else "missing", []).append(
                    partition)
        for state, keys in not_built.items():
            shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
            waiting.append(f"{key.to_user_string()} {shown} ({state})")
    return waiting


def build_report_schedule(kind: str, job: dg.UnresolvedAssetJobDefinition,
                          upstream: Mapping[dg.AssetKey, dg.TimeWindowPartitionsDefinition],
                          partitions: dg.TimeWindowPartitionsDefinition) -> dg.ScheduleDefinition:
    """`upstream`: the time-partitioned assets the kind's reports read, with their partitions."""

    @dg.schedule(
        name=f"reports_{kind}_schedule", job=job, cron_schedule=TICKS[kind], execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Production: every {kind} report for its latest complete period, once its rollups are built "
                    "(ticks hourly from the due time; skipped while it waits), rendered and delivered (SMTP_HOST; "
                    "unset: .eml files in ARTIFACTS_DIR/outbox). `make demo` already built each report's latest "
                    "period.",
    )
    def report_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        with dg.partition_loading_context(context.scheduled_execution_time):
            period = partitions.get_last_partition_key()
        if period is None:
            return dg.SkipReason("no complete period yet")
        window = partitions.time_window_for_partition_key(period)
        waiting = waiting_for(context.instance, upstream, window)
        if waiting:
            return dg.SkipReason(f"{kind} reports for {period} wait for: " + "; ".join(waiting))
        return dg.RunRequest(run_key=f"{kind}:{period}", partition_key=period, tags=REPORT_RUN_TAGS)

    return report_schedule

