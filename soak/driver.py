"""The simulated clock: hour by hour, what the Dagster daemon would do with `orchestration.definitions:defs`.

Each simulated hour H at which the daemon is awake (every hour for `make soak`; the short test
wakes it less often, as if it had been down in between: missed schedule ticks are not replayed,
the hourly snapshot's late-data range covers the hours since, and the automation sees what changed):
1. the source clock is set to H and the simulator appends the rows recorded up to H (late rows
   1-72 h after their hour, bad rows among them);
2. minute by minute, at every minute where something is due: each schedule whose cron ticks then
   is evaluated (`evaluate_tick` with that scheduled execution time) and its run requests are run;
   at the automation minutes the automation conditions are evaluated (the cursor carried from one
   evaluation to the next, as the AutomationConditionSensor keeps it) and the requested asset
   partitions run, grouped as the sensor launches them; evaluations repeat a minute later while
   they request something (a daily rollup after the hours it waited for, a monthly after its days);
3. after each batch of runs, the run-monitoring sensor (dead_run_sensor: fails runs whose process
   died) and the run-failure sensor are evaluated, each with its own cursor, so operator alerts go
   out exactly as in production.
Simulated time stands still while a run executes (runs take real seconds, not simulated minutes).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import dagster as dg

from orchestration.source.simulator import append_activity
from orchestration.warehouse.connection import connect
from soak.cron import cron_fires, minutes_with_ticks
from soak.database import set_source_clock
from soak.faults import FaultPlan
from soak.runs import PlannedRun, RunRecord, execute, execute_and_kill, from_automation, from_run_request
from soak.smtp import SoakSmtpServer

# After the :05 snapshot and the :20 cron of the unpartitioned marts; the daemon evaluates every 30 s,
# but between these minutes nothing new happens here (simulated time stands still during runs).
AUTOMATION_MINUTES = (25,)
RUN_SENSORS = ("dead_run_sensor", "operator_alert_on_run_failure")
MAX_AUTOMATION_ROUNDS = 5
log = logging.getLogger("soak")


class Driver:
    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance, source_url: str,
                 smtp: SoakSmtpServer, faults: FaultPlan, *, late_rate: float, bad_rate: float) -> None:
        self.defs, self.instance, self.source_url = defs, instance, source_url
        self.smtp, self.faults = smtp, faults
        self.late_rate, self.bad_rate = late_rate, bad_rate
        # the demo's own simulator schedule appends up to the real now: here the clock drives the simulator
        self.schedules = [defs.resolve_schedule_def(s.name) for s in defs.schedules
                          if s.job_name != "demo_source_activity_job"]
        # run monitoring first (it fails dead runs), then the alert on failed runs
        self.run_sensors = [defs.resolve_sensor_def(name) for name in RUN_SENSORS
                            if any(s.name == name for s in defs.sensors)]
        self.sensor_cursors: dict[str, str | None] = {}
        self.automation_cursor = None
        self.repository = defs.get_repository_def()  # resolves a schedule's partitioned run requests
        self.minutes = sorted(set(minutes_with_ticks([s.cron_schedule for s in self.schedules]))
                              | set(AUTOMATION_MINUTES))
        self.runs: list[RunRecord] = []
        self.ticks = 0
        self.scheduled_periods: list[tuple[str, str]] = []  # (job, partition) the report schedules asked for
        self.sensor_errors: list[str] = []
        self._after_runs()  # the run-failure sensor starts its cursor at the newest failure, like the daemon

    def hour(self, hour: datetime) -> None:
        began = time.perf_counter()
        set_source_clock(self.source_url, hour)
        with connect(self.source_url) as source:
            append_activity(source, until=hour, late_rate=self.late_rate, bad_rate=self.bad_rate,
                            late_hours=(1, 72))
            source.commit()
        for minute in self.minutes:
            at = hour + timedelta(minutes=minute)
            set_source_clock(self.source_url, at)
            for schedule in self.schedules:
                if cron_fires(schedule.cron_schedule, at):
                    self._schedule_tick(schedule, at)
            if minute in AUTOMATION_MINUTES:
                self._automation(at)
        self.ticks += 1
        log.info("%s: tick done in %.1f s (%d runs so far, %d failed)", hour, time.perf_counter() - began,
                 len(self.runs), sum(not r.success for r in self.runs))

    def _run_key_used(self, schedule: str, run_key: str) -> bool:
        return bool(self.instance.get_run_ids(filters=dg.RunsFilter(
            tags={"dagster/schedule_name": schedule, "dagster/run_key": run_key}), limit=1))

    def _schedule_tick(self, schedule: dg.ScheduleDefinition, at: datetime) -> None:
        context = dg.build_schedule_context(instance=self.instance, scheduled_execution_time=at,
                                            resources=self.defs.resources, repository_def=self.repository)
        data = schedule.evaluate_tick(context)
        for request in data.run_requests or []:
            run = from_run_request(schedule.job_name, request, ("dagster/schedule_name", schedule.name))
            if request.run_key and self._run_key_used(schedule.name, request.run_key):
                continue  # the daemon launches a schedule's run key once
            period = run.tags.get("dagster/partition", "")
            if schedule.name.startswith("reports_"):
                self.scheduled_periods.append((schedule.job_name, period))
            self.faults.before_scheduled_run(schedule.name, at, self.smtp, period)
            kill_step = self.faults.kill_step(schedule.name, at)
            if kill_step:
                began = time.perf_counter()
                run_id = execute_and_kill(self.instance, run, kill_step)
                self.faults.killed(at, run_id)
                self._record(at, schedule.name, run, run_id, False, began)
                log.warning("%s: killed run %s of %s at step %s", at, run_id, run.job, kill_step)
            else:
                self._run(at, schedule.name, run)
        self._after_runs()

    def _automation(self, at: datetime) -> None:
        for round_ in range(MAX_AUTOMATION_ROUNDS):
            when = at + timedelta(minutes=round_)
            began = time.perf_counter()
            result = dg.evaluate_automation_conditions(defs=self.defs, instance=self.instance,
                                                       evaluation_time=when, cursor=self.automation_cursor)
            log.debug("%s automation evaluated in %.1f s", when, time.perf_counter() - began)
            self.automation_cursor = result.cursor
            runs = from_automation(self.defs, result, when)
            if not runs:
                return
            for run in runs:
                self._run(when, "rollup_automation_sensor", run)
            self._after_runs()

    def _run(self, at: datetime, origin: str, run: PlannedRun) -> None:
        began = time.perf_counter()
        run_id, success = execute(self.defs, self.instance, run)
        self._record(at, origin, run, run_id, success, began)
        log.info("%s %s: %s %s %s in %.1f s", at, origin, run.job, run.partitions or "",
                 "ok" if success else f"FAILED ({run_id})", self.runs[-1].seconds)

    def _record(self, at: datetime, origin: str, run: PlannedRun, run_id: str | None, success: bool,
                began: float) -> None:
        self.runs.append(RunRecord(at.isoformat(), origin, run.job, run.partitions, run_id, success,
                                   round(time.perf_counter() - began, 2)))

    def _after_runs(self) -> None:
        for sensor in self.run_sensors:
            self._evaluate_sensor(sensor)

    def _evaluate_sensor(self, sensor: dg.SensorDefinition) -> None:
        """Evaluate a sensor until its cursor stops moving (a run-status sensor handles runs one by one)."""
        for _ in range(100):
            cursor = self.sensor_cursors.get(sensor.name)
            context = dg.build_sensor_context(instance=self.instance, cursor=cursor, definitions=self.defs,
                                              sensor_name=sensor.name)
            try:
                data = sensor.evaluate_tick(context)
            except Exception as exc:  # the daemon records a failed tick and tries again at the next one
                self.sensor_errors.append(f"{sensor.name}: {type(exc).__name__}: {exc}")
                log.warning("%s tick failed: %s", sensor.name, exc)
                return
            if data.skip_message and "marked failed" in data.skip_message:
                log.info("%s: %s", sensor.name, data.skip_message)
            if data.cursor == cursor:
                return
            self.sensor_cursors[sensor.name] = data.cursor
