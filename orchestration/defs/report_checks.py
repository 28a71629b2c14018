"""Blocking expectation checks on every report's input dataset (the report gate).

One check per catalogue report, on `reports/<id>_input`, with the report's own partitions
definition (so it checks exactly the period being built, not every partition). It reads the
dataset the input asset stored for that partition, runs the report's great-expectations suite
(expectations/report_suites.py) and fails with ERROR severity if any expectation fails. Because
it is blocking, a failure stops `reports/<id>` (rendering) and `reports/<id>_delivery` in the
same run: no report is rendered or e-mailed from unchecked data. The check's description and
metadata name each failed expectation and its failing rows; the run-failure sensor
(orchestration/defs/alerts.py) mails them to the operator once.
"""

import dagster as dg
import pandas as pd

from expectations.gate import validate_report_input
from orchestration.defs.reports import report_input_key, report_partitions
from reports.catalogue import ReportSpec
from reports.periods import period_for

CHECK_NAME = "input_expectations"


def build_report_input_check(spec: ReportSpec) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=report_input_key(spec.id),
        name=CHECK_NAME,
        blocking=True,
        partitions_def=report_partitions(spec),
        description=f"great-expectations suite of the {spec.title} input (row counts, nulls, ranges, "
                    "reconciliation totals); blocks rendering and delivery when it fails.",
    )
    def report_input_check(context: dg.AssetCheckExecutionContext,
                           dataset: dict[str, pd.DataFrame]) -> dg.AssetCheckResult:
        period = period_for(spec.schedule, context.partition_key)
        result = validate_report_input(spec.id, dataset, period)
        metadata: dict[str, object] = {
            "period": period.key,
            "expectations_evaluated": result.expectations_evaluated,
            "expectations_failed": len(result.failures),
        }
        if not result.success:
            metadata["failure_fingerprint"] = result.fingerprint()
            metadata["failures"] = dg.MetadataValue.json([
                {"expectation": f.expectation, "table": f.table, "column": f.column, "why": f.why,
                 "unexpected_count": f.unexpected_count, "failing_rows": f.failing_rows, "observed": f.observed,
                 "error": f.error} for f in result.failures])
            for position, failure in enumerate(result.failures[:20], start=1):
                metadata[f"failed/{position}"] = failure.describe()
            context.log.error(result.describe())
        return dg.AssetCheckResult(passed=result.success, severity=dg.AssetCheckSeverity.ERROR,
                                   description=result.describe(), metadata=metadata)

    return report_input_check


def report_input_checks(specs: dict[str, ReportSpec]) -> list[dg.AssetChecksDefinition]:
    return [build_report_input_check(spec) for spec in specs.values()]
