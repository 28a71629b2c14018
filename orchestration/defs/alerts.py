"""Operator alerts from Dagster: a run-failure sensor that mails OPERATOR_EMAIL once per incident.

For a failed run it sends
- one alert per failed blocking check, keyed by check, partition and what failed
  (`check-failed:<asset>:<check>:<partition>:<fingerprint>`): re-runs and retries over the same bad
  data do not mail again, a different failure does; the body names the expectations and rows;
- one alert for the run itself unless blocking checks explain the whole failure, keyed by job and
  root run (`run-failure:<job>:<root run id>`), so automatic re-executions of a run are one incident.
Mail goes through reports.alerts.send_operator_alert (same SMTP path as reports, outbox without
SMTP_HOST). What the operator sees is described in docs/delivery.md. If the mail server cannot take
an alert (after the usual retries), the incident stays 'failed' in reports.alert_incidents and the
sensor tick shows the error; Dagster does not re-evaluate the run, so that alert is not retried.
"""

import dagster as dg

from orchestration.dagster_internals import check_evaluations_in_run, step_failure_errors
from orchestration.warehouse.connection import warehouse_url
from orchestration.warehouse.migrate import migrate
from reports.alerts import AlertDeliveryError, AlertOutcome, send_operator_alert

CHECK_FAILED_ERROR = "DagsterAssetCheckFailedError"
MAX_ERROR_LINES = 12


def failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetCheckEvaluation]:
    """The failed asset-check evaluations recorded in a run."""
    return [e for e in check_evaluations_in_run(instance, run_id) if not e.passed]


def check_incident(run: dg.DagsterRun, evaluation: dg.AssetCheckEvaluation) -> tuple[str, str, str]:
    """(incident key, subject, body) for one failed check."""
    asset = evaluation.asset_key.to_user_string()
    partition = evaluation.partition or run.tags.get("dagster/partition") or "-"
    fingerprint_value = evaluation.metadata.get("failure_fingerprint")
    fingerprint = getattr(fingerprint_value, "value", None) or (evaluation.description or "")[:200]
    key = f"check-failed:{asset}:{evaluation.check_name}:{partition}:{fingerprint}"
    subject = f"Check {evaluation.check_name} failed on {asset} ({partition}): downstream reports were not sent"
    body = "\n".join([
        f"Asset:      {asset}",
        f"Check:      {evaluation.check_name} (blocking: rendering and delivery of this period stopped)",
        f"Partition:  {partition}",
        f"Run:        {run.run_id} (job {run.job_name})",
        "",
        evaluation.description or "(no description)",
        "",
        "Fix the data (or the expectation), then re-materialize the partition; recipients who already got "
        "this period are not mailed again.",
    ])
    return key, subject, body


def _error_lines(event: dg.DagsterEvent) -> list[str]:
    """The error and its causes, message lines only (the stack traces are in the Dagster UI)."""
    errors = step_failure_errors(event)
    if not errors:
        return (event.message or "").strip().splitlines()[:MAX_ERROR_LINES]
    return [f"  {line}" for error in errors for line in error.message.strip().splitlines()][:MAX_ERROR_LINES]


def run_incident(run: dg.DagsterRun, step_failures: list[dg.DagsterEvent], failure_message: str | None
                 ) -> tuple[str, str, str]:
    root = run.root_run_id or run.run_id
    partition = run.tags.get("dagster/partition")
    key = f"run-failure:{run.job_name}:{root}"
    subject = f"Run of {run.job_name} failed" + (f" ({partition})" if partition else "")
    lines = [f"Job:        {run.job_name}", f"Run:        {run.run_id}", f"Root run:   {root}"]
    if partition:
        lines.append(f"Partition:  {partition}")
    if failure_message:
        lines += ["", failure_message]
    for event in step_failures:
        lines += ["", f"Step {event.step_key} failed:", *_error_lines(event)]
    lines += ["", "Re-execute the run from the Dagster UI once the cause is fixed; further failures of this run "
                  "and its retries are counted in reports.alert_incidents, not mailed again."]
    return key, subject, "\n".join(lines)


def alert_run_failure(instance: dg.DagsterInstance, run: dg.DagsterRun, step_failures: list[dg.DagsterEvent],
                      failure_message: str | None, url: str) -> list[AlertOutcome]:
    """Send the alerts for one failed run; returns each alert's outcome."""
    checks = failed_checks(instance, run.run_id)
    incidents = [check_incident(run, evaluation) for evaluation in checks]
    only_checks = bool(checks) and all(
        (errors := step_failure_errors(e)) and errors[0].cls_name == CHECK_FAILED_ERROR for e in step_failures)
    if not only_checks:
        incidents.append(run_incident(run, step_failures, failure_message))
    outcomes: list[AlertOutcome] = []
    errors: list[AlertDeliveryError] = []
    for incident in incidents:  # one unsendable alert must not swallow the others
        try:
            outcomes.append(send_operator_alert(url, *incident))
        except AlertDeliveryError as exc:
            errors.append(exc)
    if errors:
        raise AlertDeliveryError("; ".join(str(e) for e in errors))
    return outcomes


# monitor_all_code_locations: runs executed by the `usage-analytics` CLI (in its own process, not
# launched from a code location) carry no code location, and a sensor watching only its own
# location skips them: their failures, killed runs included, were never alerted.
@dg.run_failure_sensor(
    name="operator_alert_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=True,
    description="E-mails OPERATOR_EMAIL once per failed run lineage and once per failed blocking check.",
)
def operator_alert_on_run_failure(context: dg.RunFailureSensorContext) -> None:
    url = warehouse_url()
    migrate(url)
    outcomes = alert_run_failure(context.instance, context.dagster_run, list(context.get_step_failure_events()),
                                 context.failure_event.message, url)
    context.log.info("alerts for run %s: %s", context.dagster_run.run_id, outcomes)
