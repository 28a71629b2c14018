"""Hourly snapshot assets: the source's rows for each hour, landed in raw.*.

One multi-asset writes every raw table for a window of hours in one transaction, so an hour is
either fully extracted or untouched. Ranges run as a single run (one set-based pass for 90 days
of hours, not 2,160 processes).
"""

from datetime import datetime

import dagster as dg

from orchestration.defs.partitions import hourly_partitions
from orchestration.defs.pools import RAW_SNAPSHOT_POOL, warehouse_lock
from orchestration.defs.resources import SourceResource, WarehouseResource
from orchestration.snapshots.accounting import TableAccounting, account_rows
from orchestration.snapshots.hour_figures import hour_figures
from orchestration.snapshots.run import newest_snapshot_end, snapshot_plans, snapshot_window
from orchestration.snapshots.tables import HOURLY_SNAPSHOT_TABLES

_DESCRIPTIONS = {
    "accounts": "Accounts that signed up in the hour (with personal data; staging drops it).",
    "subscriptions": "Subscription period versions last updated in the hour.",
    "sessions": "Sessions that started in the hour.",
    "usage_events": "API calls, exports and share-link events that occurred in the hour.",
    "account_state_hourly": "Each account's storage meter and active subscription at hour end.",
    "invoices": "Invoices issued in the hour.",
}

RAW_PLANS = dg.AssetKey(["raw", "plans"])
# Dagster checks every partition-scoped metadata call against the run's whole key range, so
# per-hour figures cost runs x hours^2: a week's range takes about a second, the demo's 90-day
# backfill would take minutes. Longer runs record their totals, named as such, on every hour.
MAX_HOURS_WITH_OWN_FIGURES = 168
HOUR_FIGURES_NOT_RECORDED = ("run_* are this run's totals over its {hours} hours, not this hour's (per-hour figures "
                             f"are recorded for runs of up to {MAX_HOURS_WITH_OWN_FIGURES} hours); this hour's "
                             "counts: raw.snapshot_log where table_name = '{table}'")
ROW_ACCOUNTING = "row_accounting"


@dg.multi_asset(
    name="hourly_source_snapshot",
    specs=[
        dg.AssetSpec(["raw", t.name], description=_DESCRIPTIONS[t.name], group_name="raw",
                     kinds={"postgres"})
        for t in HOURLY_SNAPSHOT_TABLES
    ],
    partitions_def=hourly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=RAW_SNAPSHOT_POOL,
)
def hourly_source_snapshot(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, source: SourceResource
):
    window = context.partition_time_window
    with warehouse_lock(warehouse.url, RAW_SNAPSHOT_POOL):  # orchestration/defs/pools.py
        results = snapshot_window(source.url, warehouse.url, window.start, window.end)
    context.log.info(
        "Snapshot %s to %s: %s", window.start, window.end,
        ", ".join(f"{r.table}={r.rows_loaded}(+{r.rows_quarantined} quarantined)" for r in results),
    )
    own_figures = len(context.partition_keys) <= MAX_HOURS_WITH_OWN_FIGURES
    if own_figures:
        _record_hour_figures(context, warehouse.url, window.start, window.end)
    # Data time, not run time: freshness checks (orchestration/defs/freshness.py) read it, so a
    # backfill of old hours does not make stale raw data look fresh.
    data_end = newest_snapshot_end(warehouse.url)
    for result in results:
        yield dg.MaterializeResult(
            asset_key=["raw", result.table],
            metadata={
                "run_window_start": window.start.isoformat(),
                "run_window_end": window.end.isoformat(),
                "run_rows_loaded": result.rows_loaded,
                "run_rows_quarantined": result.rows_quarantined,
                # with "erased": rows of erased accounts the extraction skipped (stored nowhere, so
                # no hour's own figures can count them)
                "run_quarantined_by_reason": dg.MetadataValue.json(result.quarantined_by_reason),
                **({} if own_figures else {"hour_figures": HOUR_FIGURES_NOT_RECORDED.format(
                    hours=len(context.partition_keys), table=result.table)}),
                "dagster/last_updated_timestamp": dg.MetadataValue.timestamp(data_end),
            },
        )


def _record_hour_figures(context: dg.AssetExecutionContext, warehouse_url: str, start: datetime, end: datetime) -> None:
    """Give each hour's partition its own rows_loaded / rows_quarantined (read back from raw.snapshot_log)."""
    keys = {hourly_partitions.time_window_for_partition_key(k).start: k for k in context.partition_keys}
    for (table, hour), figures in hour_figures(warehouse_url, start, end).items():
        context.add_asset_metadata({
            "rows_loaded": figures.rows_loaded,
            "rows_quarantined": figures.rows_quarantined,
            "quarantined_by_reason": dg.MetadataValue.json(figures.quarantined_by_reason),
        }, asset_key=["raw", table], partition_key=keys[hour])


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            ROW_ACCOUNTING, asset=["raw", t.name], partitions_def=hourly_partitions, blocking=True,
            description="Every source row of the hour is in raw, in quarantine with a reason, or belongs "
                        "to an erased account; fails naming the rows in none of them. Blocking: a lost row "
                        "stops the hour's rollups and fails the run, which alerts the operator once.",
        )
        for t in HOURLY_SNAPSHOT_TABLES
    ],
)
def hourly_row_accounting(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, source: SourceResource
):
    """One pass per table over the run's hours (a range run checks its whole range at once)."""
    window = context.partition_time_window
    for result in account_rows(source.url, warehouse.url, list(HOURLY_SNAPSHOT_TABLES), window.start, window.end):
        missing = sum(h.missing for h in result.hours if h.missing > 0)
        metadata: dict[str, object] = {
            "hours": len(result.hours),
            "source_rows": sum(h.source for h in result.hours),
            "raw_rows": sum(h.raw for h in result.hours),
            "quarantined_rows": sum(h.quarantined for h in result.hours),
            "erased_account_rows": sum(h.erased for h in result.hours),
            "rows_in_neither": missing,
            "stored_beyond_source": sum(-h.missing for h in result.hours if h.missing < 0),
        }
        if not result.passed:
            metadata["hours_short"] = dg.MetadataValue.json(
                {h.hour.isoformat(): h.missing for h in result.hours if h.missing > 0})
            metadata["rows_in_neither_named"] = dg.MetadataValue.json(result.missing_rows)
            metadata["hours_never_extracted"] = dg.MetadataValue.json(
                [h.isoformat() for h in result.never_extracted])
        yield dg.AssetCheckResult(
            asset_key=["raw", result.table], check_name=ROW_ACCOUNTING, passed=result.passed,
            severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
            description=None if result.passed else _lost_rows_description(missing, result),
        )


def _lost_rows_description(missing: int, result: TableAccounting) -> str:
    """What the UI and the operator's alert say: how many rows are lost, and the first ones by key."""
    named = "; ".join(", ".join(f"{k}={v}" for k, v in row.items()) for row in result.missing_rows[:5])
    return (f"{missing} source row(s) in neither raw nor quarantine" + (f": {named}" if named else "")
            + (f"; {len(result.never_extracted)} hour(s) never extracted" if result.never_extracted else ""))


@dg.asset(
    key=RAW_PLANS,
    group_name="raw",
    kinds={"postgres"},
    description="The plan catalogue: small and slowly changing, so replaced whole, not partitioned.",
    automation_condition=dg.AutomationCondition.on_cron("0 * * * *"),
)
def raw_plans(warehouse: WarehouseResource, source: SourceResource) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows_loaded": snapshot_plans(source.url, warehouse.url)})
