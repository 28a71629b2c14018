"""Delivery assets: `reports/<id>_delivery` e-mails a rendered report period to its recipients.

Downstream of `reports/<id>` with the same partitions, so the report jobs and schedules deliver
right after rendering, and a backfill or a UI materialization of any past period delivers it too —
exactly once per recipient, whatever is re-run (the ledger in reports/delivery_ledger.py). Since
rendering sits behind the blocking input checks, nothing is delivered from unchecked data.
"""

import dagster as dg

from orchestration.defs.reports import GROUP, report_artifacts_key, report_partitions
from orchestration.defs.resources import WarehouseResource
from reports.catalogue import ReportSpec
from reports.delivery import DeliveryError, deliver_report


def report_delivery_key(report_id: str) -> dg.AssetKey:
    return dg.AssetKey([GROUP, f"{report_id}_delivery"])


def build_report_delivery(spec: ReportSpec) -> dg.AssetsDefinition:
    audience = "the account owners" if spec.audience == "account" else "the internal recipients"

    @dg.asset(
        key=report_delivery_key(spec.id),
        group_name=GROUP,
        partitions_def=report_partitions(spec),
        deps=[report_artifacts_key(spec.id)],
        kinds={"python", "email"},
        description=f"{spec.title} e-mailed to {audience}, once per recipient and period "
                    "(SMTP, or .eml files in ARTIFACTS_DIR/outbox/ without SMTP_HOST).",
    )
    def report_delivery(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        try:
            summary = deliver_report(warehouse.url, spec.id, context.partition_key, run_id=context.run_id)
        except DeliveryError as exc:
            raise dg.Failure(description=str(exc), metadata=exc.summary.counts()) from exc
        context.log.info("%s %s delivered: %s", spec.id, context.partition_key, summary.counts())
        return dg.MaterializeResult(metadata={
            "sent": summary.sent,
            "already_sent": summary.already_sent,
            "written_to_outbox": summary.outbox,
            "failed": summary.failed + summary.refused + summary.in_progress,
            "accounts_without_owner_email": summary.no_recipient,
        })

    return report_delivery


def report_delivery_assets(specs: dict[str, ReportSpec]) -> list[dg.AssetsDefinition]:
    return [build_report_delivery(spec) for spec in specs.values()]
