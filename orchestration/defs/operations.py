"""Operator jobs: the scheduled retention purge, on-demand erasure and bulk operations.

Thin wrappers around orchestration/operations/ (where the logic and its tests live), so the
same work runs from the UI (Launchpad, with run config), on a schedule, or from the CLI.
"""


import dagster as dg

from orchestration.defs.resources import WarehouseResource
from orchestration.operations.bulk import OPERATIONS, run_bulk
from orchestration.operations.erasure import erase_account
from orchestration.operations.retention import purge_expired
from orchestration.settings import get_settings


@dg.op(description="Purge raw telemetry and quarantine rows older than RETENTION_DAYS, once rolled up.")
def purge_expired_rows(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> dg.Output[int]:
    report = purge_expired(warehouse.url, get_settings().retention_days)
    context.log.info("Retention %d days (cutoff %s): %d rows removed over %d days, %d due days held back "
                     "(not rolled up yet)", report.retention_days, report.cutoff, report.rows_removed,
                     report.days_purged, report.days_held_back)
    return dg.Output(report.rows_removed, metadata={
        "cutoff": report.cutoff.isoformat(), "days_purged": report.days_purged,
        "days_held_back": report.days_held_back, "removed": dg.MetadataValue.json(report.removed)})


@dg.job(description="Purge raw and quarantine rows past the retention period (daily at 04:15 UTC).")
def retention_job():
    purge_expired_rows()


retention_schedule = dg.ScheduleDefinition(
    job=retention_job, cron_schedule="15 4 * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Production: daily at 04:15 UTC, purge raw telemetry and quarantine rows older than "
                "RETENTION_DAYS (only days whose rollup exists; the marts keep them). In a demo it only "
                "trims the raw rows of the oldest simulated days.",
)


class EraseAccountConfig(dg.Config):
    account_id: int
    requested_by: str = ""


@dg.op(description="Erase one account from raw, quarantine, marts, ml and reports; the source is not touched.")
def erase_account_everywhere(context: dg.OpExecutionContext, config: EraseAccountConfig,
                             warehouse: WarehouseResource) -> dg.Output[int]:
    report = erase_account(warehouse.url, config.account_id, config.requested_by or f"dagster run {context.run.run_id}")
    context.log.info("Erased account %d: %d rows, %d files: %s", report.account_id, report.rows_removed,
                     report.files_removed, report.removed)
    return dg.Output(report.rows_removed, metadata={
        "account_id": report.account_id, "files_removed": report.files_removed,
        "removed": dg.MetadataValue.json(report.removed)})


@dg.job(description="Erase one account everywhere (run config: ops.erase_account_everywhere.config.account_id).")
def erase_account_job():
    erase_account_everywhere()


class BulkOperationConfig(dg.Config):
    operation: str
    accounts: list[str]
    progress_every: int = 100


@dg.op(description=f"Run a named operation ({', '.join(sorted(OPERATIONS))}) over many accounts.")
def bulk_operation(context: dg.OpExecutionContext, config: BulkOperationConfig,
                   warehouse: WarehouseResource) -> dg.Output[int]:
    summary = run_bulk(
        warehouse.url, config.operation, config.accounts, config.progress_every,
        progress=lambda done, total, s: context.log.info(
            f"{config.operation}: {done}/{total} accounts, {s.failed} failed"),
    )
    metadata = {"bulk_run_id": summary.bulk_run_id, "succeeded": summary.succeeded, "failed": summary.failed,
                "failures": dg.MetadataValue.json(summary.failures)}
    if summary.failures:
        # Every account was attempted and the summary is stored; the run is red so nobody misses it.
        raise dg.Failure(description=f"{summary.failed} of {summary.total} accounts failed "
                                     f"(ops.bulk_run_accounts, bulk_run_id {summary.bulk_run_id})",
                         metadata=metadata)
    return dg.Output(summary.succeeded, metadata=metadata)


@dg.job(description="A named bulk operation over a list of accounts, each isolated from the others' failures.")
def bulk_operation_job():
    bulk_operation()


operation_jobs = [retention_job, erase_account_job, bulk_operation_job]
