"""Runs whose process died are marked failed, so the run-failure alert (alerts.py) fires once.

Dagster's run monitoring (enabled in the instance `make` writes, orchestration/dagster_instance.py)
fails runs stuck starting or cancelling, but it can only see a dead STARTED run through the run
launcher's worker health check, which the DefaultRunLauncher does not have
(`supports_check_run_worker_health` is False; the Kubernetes launcher has one). Runs that the
`usage-analytics` CLI executes in its own process never pass through a launcher at all. So a
`kill -9` left such runs STARTED forever, with no alert (issue 12, reproduction 5).

Here a STARTED run is judged by the process that started it: the pid Dagster records on the run's
RUN_START event. The run is dead when no process has that pid, when the process is a zombie, or
when the pid now belongs to a process created after the run started (a reused pid). This assumes
run workers and the checker share a machine, as they do with the default launcher, `dagster dev`,
the CLI and the soak test; with a launcher that checks worker health, only runs executed outside a
launcher (the CLI's, which have no remote job origin) are judged.
"""

from __future__ import annotations

import dagster as dg
import psutil

from orchestration.dagster_internals import launcher_watches_run, mark_run_failed, run_worker_pid

# A process's creation time and the run's start time come from different clocks' roundings.
CLOCK_SLACK_SECONDS = 1.0


def worker_is_gone(pid: int, run_started_at: float) -> bool:
    """No live process with `pid` has existed since the run started."""
    try:
        process = psutil.Process(pid)
        return (process.status() == psutil.STATUS_ZOMBIE
                or process.create_time() > run_started_at + CLOCK_SLACK_SECONDS)
    except psutil.NoSuchProcess:
        return True


def fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark every STARTED run whose process is gone as failed; return their run ids.

    Safe to call at any time and as often as wanted (the soak test calls it each simulated tick):
    a live run is left alone, and a run already failed is no longer STARTED. Marking the run failed
    records a RUN_FAILURE event, which the run-failure sensor alerts on once, and frees the pool
    slots the dead process held, so runs queued behind it proceed now rather than after the
    daemon's `free_slots_after_run_end_seconds`.
    """
    failed = []
    started = instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    for record in started:
        run = record.dagster_run
        pid = run_worker_pid(instance, run.run_id)
        if pid is None or launcher_watches_run(instance, run) or not worker_is_gone(pid, record.start_time or 0.0):
            continue
        # the process is gone, so it can write nothing more: the status read now is final
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.status != dg.DagsterRunStatus.STARTED:
            continue
        mark_run_failed(
            instance, current, f"The process running this run (pid {pid}) is gone: it was killed or crashed "
                               "mid-run. Re-execute the run; each partition write is one transaction, so no partial "
                               "window was left.")
        failed.append(run.run_id)
    return failed


@dg.sensor(
    name="dead_run_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks STARTED runs whose process died as failed (the run-failure alert then fires once).",
)
def dead_run_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    failed = fail_dead_runs(context.instance)
    return dg.SkipReason(f"marked failed (process gone): {', '.join(failed)}" if failed else "no dead runs")
