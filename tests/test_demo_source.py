"""The demo simulator's job and schedule are defined in every environment; with SOURCE_URL set (a real
product database) the schedule skips and the job refuses to run, writing nothing."""

import dagster as dg
import pytest

from orchestration.dagster_internals import step_failure_errors
from orchestration.defs.demo_source import REAL_SOURCE, demo_source_activity_job, demo_source_activity_schedule


def test_with_a_real_source_the_schedule_skips_and_the_job_refuses(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SOURCE_URL", "postgresql://product.invalid/app")
    with dg.build_schedule_context() as context:
        tick = demo_source_activity_schedule.evaluate_tick(context)
    assert tick.run_requests == [] and tick.skip_message == REAL_SOURCE

    result = demo_source_activity_job.execute_in_process(raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert any(REAL_SOURCE in error.message for error in step_failure_errors(failure))


def test_without_a_source_url_the_schedule_requests_a_run(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("SOURCE_URL", raising=False)
    with dg.build_schedule_context() as context:
        tick = demo_source_activity_schedule.evaluate_tick(context)
    assert len(tick.run_requests) == 1 and tick.skip_message is None
