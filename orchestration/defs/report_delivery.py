"""Delivery assets: `reports/<id>_delivery` e-mails a rendered report period to its recipients.

Downstream of `reports/<id>` with the same partitions, so the report jobs and schedules deliver
right after rendering, and a backfill or a UI materialization of any past period delivers it too —
exactly once per recipient, whatever is re-run (the ledger in reports/delivery_ledger.py).
Rendering sits behind the blocking input checks; and because `reports/<id>` or this asset can
also be materialized on their own from the UI, delivery itself refuses a period whose latest
input was not checked after it was loaded or failed its check: no report leaves unchecked data.

A recipient that cannot be served for a reason of its own (invalid owner e-mail, message over the
size limit, a 5xx for that address) does not fail the run: the others are served, the ledger
records it, the operator is mailed once (reports/undeliverable.py), and the asset's check
`every_recipient_served` fails and names the accounts, so the UI shows it. A failed run would add
a run-failure alert for every re-run of the same cause (orchestration/defs/alerts.py keys those by
run lineage). Faults a retry may fix (4xx and network errors that outlast the attempts, a session
the server refuses, a live claim of another run) still fail the run.

A 'sending' claim left by a run this Dagster instance knows is over (failed, canceled, finished,
or gone) is taken over at once; one held by a run that still looks alive waits for the lease
(run monitoring marks a run whose process died as failed within minutes).
"""

from collections.abc import Callable

import dagster as dg

from orchestration.dagster_internals import latest_check_evaluation
from orchestration.defs.report_checks import CHECK_NAME
from orchestration.defs.reports import GROUP, report_artifacts_key, report_input_key, report_partitions
from orchestration.defs.resources import WarehouseResource
from reports.catalogue import ReportSpec
from reports.delivery import DeliveryError, DeliverySummary, deliver_report

SERVED_CHECK = "every_recipient_served"


def report_delivery_key(report_id: str) -> dg.AssetKey:
    return dg.AssetKey([GROUP, f"{report_id}_delivery"])


def run_is_dead(instance: dg.DagsterInstance) -> Callable[[str], bool]:
    """Whether a run id names a run Dagster knows is over: finished (any way) or not in the instance."""
    def dead(run_id: str) -> bool:
        run = instance.get_run_by_id(run_id)
        return run is None or run.is_finished
    return dead


def served_check(report_id: str, summary: DeliverySummary) -> dg.AssetCheckResult:
    lines = [f"{u.who}: {u.reason}" for u in summary.undeliverable]
    return dg.AssetCheckResult(
        check_name=SERVED_CHECK, asset_key=report_delivery_key(report_id), passed=not lines,
        severity=dg.AssetCheckSeverity.ERROR,
        description="\n".join(lines) if lines else "every recipient was served",
        metadata={"undeliverable": len(lines),
                  "accounts": [u.account_id for u in summary.undeliverable if u.account_id is not None]},
    )


def gate_refusal(instance: dg.DagsterInstance, report_id: str, partition: str) -> str | None:
    """Why this period must not be delivered (its input unchecked or failing), or None if it passed."""
    input_key = report_input_key(report_id)
    loaded = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=input_key, asset_partitions=[partition]), limit=1).records
    if not loaded:
        return f"{input_key.to_user_string()} was never materialized for {partition}"
    checked = latest_check_evaluation(instance, dg.AssetCheckKey(input_key, CHECK_NAME), partition)
    if checked is None or checked.timestamp < loaded[0].timestamp:
        return (f"the latest {input_key.to_user_string()} for {partition} has no {CHECK_NAME} result; "
                "materialize it with its check first")
    if checked.evaluation.passed:
        return None
    return f"its input failed {CHECK_NAME}:\n{checked.evaluation.description}"


def build_report_delivery(spec: ReportSpec) -> dg.AssetsDefinition:
    audience = "the account owners" if spec.audience == "account" else "the internal recipients"

    @dg.asset(
        key=report_delivery_key(spec.id),
        group_name=GROUP,
        partitions_def=report_partitions(spec),
        deps=[report_artifacts_key(spec.id)],
        check_specs=[dg.AssetCheckSpec(SERVED_CHECK, asset=report_delivery_key(spec.id),
                                       description="Fails, naming the accounts, when recipients could not be "
                                                   "served (invalid address, too large, refused for them).")],
        kinds={"python", "email"},
        description=f"{spec.title} e-mailed to {audience}, once per recipient and period "
                    "(SMTP, or .eml files in ARTIFACTS_DIR/outbox/ without SMTP_HOST).",
    )
    def report_delivery(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        refusal = gate_refusal(context.instance, spec.id, context.partition_key)
        if refusal:
            raise dg.Failure(description=f"{spec.id} {context.partition_key} not delivered: {refusal}")
        try:
            summary = deliver_report(warehouse.url, spec.id, context.partition_key, run_id=context.run.run_id,
                                     run_is_dead=run_is_dead(context.instance))
        except DeliveryError as exc:
            raise dg.Failure(description=str(exc), metadata=exc.summary.counts()) from exc
        context.log.info("%s %s delivered: %s", spec.id, context.partition_key, summary.counts())
        checks = [served_check(spec.id, summary)] if context.selected_asset_check_keys else []
        return dg.MaterializeResult(metadata={
            "recipients": summary.recipients,
            "sent": summary.sent,
            "already_sent": summary.already_sent,
            "written_to_outbox": summary.outbox,
            "undeliverable": len(summary.undeliverable),
            "failed": summary.failed + summary.refused + summary.in_progress,
            "accounts_without_owner_email": summary.no_recipient,
        }, check_results=checks)

    return report_delivery


def report_delivery_assets(specs: dict[str, ReportSpec]) -> list[dg.AssetsDefinition]:
    return [build_report_delivery(spec) for spec in specs.values()]
