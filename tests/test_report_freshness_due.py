"""The report periods the demo builds are the ones Dagster's freshness checks expect.

Root cause of the failed `reports/platform_stats` check after a demo: before a day's 06:30 deadline
the daily check still expects the day before yesterday's report, and the demo built only
yesterday's. The checks here are Dagster's own, evaluated at frozen instants.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from orchestration.report_deadlines import period_due, reports_due

BEFORE_DEADLINES = datetime(2026, 6, 1, 5, tzinfo=UTC)  # a Monday, the 1st: every kind's deadline is ahead
AFTER_DEADLINES = datetime(2026, 6, 1, 7, tzinfo=UTC)


def test_before_its_deadline_the_previous_period_is_due():
    assert [p.key for p in reports_due("daily", BEFORE_DEADLINES)] == ["2026-05-30", "2026-05-31"]
    assert [p.key for p in reports_due("weekly", BEFORE_DEADLINES)] == ["2026-05-18", "2026-05-25"]
    assert [p.key for p in reports_due("monthly", BEFORE_DEADLINES)] == ["2026-04-01", "2026-05-01"]
    for kind in ("daily", "weekly", "monthly"):
        (latest,) = reports_due(kind, AFTER_DEADLINES)
        assert latest.end == date(2026, 6, 1) and period_due(kind, AFTER_DEADLINES) == latest


def _evaluate_report_checks(instance, built: dict[str, list[str]], at: datetime) -> dict[str, object]:
    """Record materializations of `built` (report id -> period keys), then run every freshness check at `at`."""
    import dagster as dg

    from orchestration.dagster_internals import dagster_clock_at
    from orchestration.definitions import defs
    from orchestration.defs.reports import report_artifacts_key

    for report_id, keys in built.items():
        for key in keys:
            instance.report_runless_asset_event(dg.AssetMaterialization(report_artifacts_key(report_id), partition=key))
    with dagster_clock_at(at):
        result = defs.resolve_job_def("freshness_checks_job").execute_in_process(instance=instance)
    assert result.success
    return {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()
            if e.asset_key.path[0] == "reports"}


@pytest.mark.parametrize("at", [BEFORE_DEADLINES, AFTER_DEADLINES], ids=["before-deadlines", "after-deadlines"])
def test_every_report_check_passes_with_the_periods_the_demo_builds(at):
    import dagster as dg

    from reports.catalogue import load_catalogue

    catalogue = load_catalogue()
    with dg.DagsterInstance.ephemeral() as instance:
        checks = _evaluate_report_checks(
            instance, {s.id: [p.key for p in reports_due(s.schedule, at)] for s in catalogue.values()}, at)
    assert set(checks) == {f"reports/{report_id}" for report_id in catalogue}
    assert all(c.passed for c in checks.values()), {k: c.description for k, c in checks.items() if not c.passed}


def test_the_latest_period_alone_fails_before_the_deadline():
    """What the demo used to build: the check expects the period before, and fails naming it."""
    import dagster as dg

    with dg.DagsterInstance.ephemeral() as instance:
        checks = _evaluate_report_checks(instance, {"platform_stats": ["2026-05-31"]}, BEFORE_DEADLINES)
    stats = checks["reports/platform_stats"]
    assert not stats.passed and "2026-05-30" in stats.description
