"""Report assets and schedules, generated from the catalogue (reports/catalogue.yaml).

Per report, two assets in group `reports`, partitioned by the report's period:
- `reports/<id>_input`: the period's dataset read from the report's input models (dbt views
  `report_inputs/rpt_<id>__<table>`, which depend on the marts and ml tables they read), as a dict
  of DataFrames stored by the IO manager, with row counts and a data hash as metadata. Delivery's
  blocking expectation checks attach here, so a bad dataset stops the run before anything is
  rendered or sent.
- `reports/<id>`: renders every format, replaces `ARTIFACTS_DIR/<id>/<period>/` and the
  period's rows in reports.report_artifacts, and logs the run in reports.report_runs.
One job per period kind runs every report of that kind (and whatever the catalogue's assets
feed downstream, e.g. delivery); its schedule requests the latest complete period once the rollups
it reads are built (orchestration/defs/report_schedules.py). Any past
period is one partition materialization away, from the UI or `usage-analytics report`.
"""


import dagster as dg

from orchestration.defs.dbt_models import dbt_daily_models, dbt_hourly_models, dbt_monthly_models
from orchestration.defs.partitions import daily_partitions, monthly_partitions
from orchestration.defs.report_schedules import build_report_schedule
from orchestration.defs.resources import WarehouseResource
from orchestration.settings import get_settings
from reports.catalogue import ReportSpec, load_catalogue
from reports.datasets import data_hash, load_dataset, row_counts
from reports.lineage import input_relations
from reports.periods import period_for
from reports.publish import publish_report

GROUP = "reports"
weekly_partitions = dg.WeeklyPartitionsDefinition(
    start_date=get_settings().partitions_start, day_offset=1, timezone="UTC")  # ISO weeks: Monday
_PARTITIONS = {"daily": daily_partitions, "weekly": weekly_partitions, "monthly": monthly_partitions}


def report_input_key(report_id: str) -> dg.AssetKey:
    return dg.AssetKey([GROUP, f"{report_id}_input"])


def report_artifacts_key(report_id: str) -> dg.AssetKey:
    return dg.AssetKey([GROUP, report_id])


def report_partitions(spec: ReportSpec) -> dg.PartitionsDefinition:
    return _PARTITIONS[spec.schedule]


def _upstream_keys(spec: ReportSpec) -> list[dg.AssetKey]:
    """The marts and ml tables the report's input models read (their dbt lineage)."""
    return [dg.AssetKey(key.split("/")) for key in spec.upstream]


def input_model_keys(spec: ReportSpec) -> list[dg.AssetKey]:
    """The report's input models, dbt assets like the marts under them."""
    return [dg.AssetKey(key.split("/")) for key in input_relations(spec.input_models)]


# The time-partitioned assets a report may read (dbt's rollups); everything else it reads is unpartitioned.
_PARTITIONED_UPSTREAM = {key: a.partitions_def for a in (dbt_hourly_models, dbt_daily_models, dbt_monthly_models)
                         for key in a.keys}


def upstream_partitions(window: dg.TimeWindow, spec: ReportSpec) -> dict[str, str | None]:
    """Each upstream asset with the partition range the period covers (None: unpartitioned)."""
    found: dict[str, str | None] = {}
    for key in _upstream_keys(spec):
        partitions = _PARTITIONED_UPSTREAM.get(key)
        if isinstance(partitions, dg.TimeWindowPartitionsDefinition):
            keys = partitions.get_partition_keys_in_time_window(window)
            found[key.to_user_string()] = f"{keys[0]}..{keys[-1]}" if keys else ""
        else:
            found[key.to_user_string()] = None
    return found


def build_report_assets(spec: ReportSpec) -> list[dg.AssetsDefinition]:
    partitions = report_partitions(spec)

    @dg.asset(
        key=report_input_key(spec.id),
        group_name=GROUP,
        partitions_def=partitions,
        deps=input_model_keys(spec),
        kinds={"python", "postgres"},
        description=f"{spec.title}: the period's input dataset ({', '.join(spec.inputs)}) read from its dbt "
                    "input models.",
    )
    def report_input(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.Output:
        period = period_for(spec.schedule, context.partition_key)
        dataset = load_dataset(warehouse.url, spec, period.start, period.end)
        counts = row_counts(dataset)
        return dg.Output(dataset, metadata={
            **{f"rows/{name}": count for name, count in counts.items()},
            "data_hash": data_hash(dataset),
            "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat(),
        })

    @dg.asset(
        key=report_artifacts_key(spec.id),
        group_name=GROUP,
        partitions_def=partitions,
        ins={"dataset": dg.AssetIn(key=report_input_key(spec.id))},
        kinds={"python", "pdf"} if "pdf" in spec.formats else {"python"},
        description=f"{spec.title} ({spec.audience}, {spec.schedule}): {', '.join(spec.formats)} files under "
                    f"ARTIFACTS_DIR/{spec.id}/<period>/ with a manifest.",
    )
    def report_artifacts(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                         dataset: dict) -> dg.MaterializeResult:
        period = period_for(spec.schedule, context.partition_key)
        settings = get_settings()
        result = publish_report(warehouse.url, spec, period, dataset, settings.artifacts_dir,
                                upstream_partitions(context.partition_time_window, spec),
                                dagster_run_id=context.run.run_id, workers=settings.report_render_workers)
        context.log.info("%s %s: %s files, %s documents (%s with no data) in %s", spec.id, period.key,
                         len(result.artifacts), result.documents, result.empty_documents, result.folder)
        return dg.MaterializeResult(metadata={
            "folder": dg.MetadataValue.path(str(result.folder)),
            "files": len(result.artifacts),
            "documents": result.documents,
            "documents_without_data": result.empty_documents,
            "pdf_pages": result.pdf_pages,
            "data_hash": result.manifest["data_hash"],
            **{f"render_seconds/{fmt}": s for fmt, s in result.render_seconds.items()},
        })

    return [report_input, report_artifacts]


catalogue = load_catalogue()
report_assets = [asset for spec in catalogue.values() for asset in build_report_assets(spec)]


def _job_selection(kind: str) -> dg.AssetSelection:
    inputs = [report_input_key(s.id) for s in catalogue.values() if s.schedule == kind]
    return dg.AssetSelection.assets(*inputs).downstream() & dg.AssetSelection.groups(GROUP)


report_jobs = {
    kind: dg.define_asset_job(
        f"reports_{kind}_job",
        selection=_job_selection(kind),
        partitions_def=_PARTITIONS[kind],
        description=f"Every {kind} report for one period: input dataset, checks, files (and delivery).",
    )
    for kind in _PARTITIONS
    if any(s.schedule == kind for s in catalogue.values())
}


def _partitioned_upstream(kind: str) -> dict[dg.AssetKey, dg.TimeWindowPartitionsDefinition]:
    """The time-partitioned tables the kind's reports read, whose partitions its schedule waits for."""
    keys = {key for spec in catalogue.values() if spec.schedule == kind for key in _upstream_keys(spec)}
    return {key: partitions for key, partitions in _PARTITIONED_UPSTREAM.items() if key in keys}


report_schedules = [build_report_schedule(kind, job, _partitioned_upstream(kind), _PARTITIONS[kind])
                    for kind, job in report_jobs.items()]
