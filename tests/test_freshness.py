"""Freshness: old hourly data fails its check, the operator is mailed once, fresh data passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.conftest import reset_warehouse
from tests.handmade_source import add_session, seed_accounts

KEY_FORMAT = "%Y-%m-%d-%H:%M"


def snapshot(defs, instance, hour: datetime) -> None:
    key = hour.strftime(KEY_FORMAT)
    assert defs.resolve_job_def("hourly_snapshot_job").execute_in_process(
        instance=instance, tags={"dagster/asset_partition_range_start": key,
                                 "dagster/asset_partition_range_end": key}).success


def outbox_mails() -> list[str]:
    from orchestration.settings import get_settings

    return [p.read_text() for p in (get_settings().artifacts_dir / "outbox").glob("*.eml")]


def evaluate_checks(defs, instance) -> dict[str, object]:
    result = defs.resolve_job_def("freshness_checks_job").execute_in_process(instance=instance)
    assert result.success  # a failed freshness check is a warning, not a failed run
    return {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}


@pytest.fixture(scope="module")
def defs(warehouse_url: str, tmp_path_factory):
    from orchestration.definitions import defs

    reset_warehouse(warehouse_url)
    with psycopg.connect(warehouse_url) as conn:
        seed_accounts(conn, signup="2026-03-10 00:00+00")
        add_session(conn, 1, 1, "2026-03-10 01:10+00", "2026-03-10 01:20+00")
        conn.commit()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPERATOR_EMAIL", "operator@example.com")
        patch.delenv("SMTP_HOST", raising=False)  # alerts go to the outbox as .eml files
        patch.setenv("ARTIFACTS_DIR", str(tmp_path_factory.mktemp("artifacts")))
        yield defs


def test_the_sensor_asks_for_checks_never_evaluated(defs, dagster_instance):
    import dagster as dg

    from orchestration.defs.freshness import freshness_check_keys, freshness_checks_sensor

    with dg.DagsterInstance.ephemeral() as fresh_instance:  # no check ever evaluated
        request = freshness_checks_sensor(dg.build_sensor_context(instance=fresh_instance))
    assert isinstance(request, dg.RunRequest)
    assert set(request.asset_check_keys) == set(freshness_check_keys())
    names = {k.asset_key.to_user_string() for k in request.asset_check_keys}
    assert {"raw/sessions", "marts/fct_usage_hourly", "marts/fct_usage_daily"} <= names


def test_old_hourly_data_is_stale_and_alerts_once(defs, dagster_instance, db):
    import dagster as dg

    from orchestration.defs.freshness import stale_data_alert_sensor
    from orchestration.defs.resources import WarehouseResource

    snapshot(defs, dagster_instance, datetime(2026, 3, 10, 1, tzinfo=UTC))
    checks = evaluate_checks(defs, dagster_instance)
    sessions = checks["raw/sessions"]
    assert not sessions.passed and "overdue" in sessions.description
    # judged by the data's time (end of the newest snapshotted hour), not by when the run happened
    assert sessions.metadata["dagster/last_updated_timestamp"].value == datetime(2026, 3, 10, 2, tzinfo=UTC).timestamp()
    assert checks["marts/fct_usage_hourly"].passed  # rebuilt just now

    context = dg.build_sensor_context(instance=dagster_instance, resources={"warehouse": WarehouseResource()})
    first = stale_data_alert_sensor(context)
    incidents = dict(db.execute("SELECT subject, status FROM reports.alert_incidents").fetchall())
    assert incidents["Stale data: raw/sessions"] == "outbox"
    assert "Stale data: marts/fct_usage_hourly" not in incidents
    assert "raw/sessions" in first.skip_message
    outbox = outbox_mails()
    assert len(outbox) == len(incidents)
    assert any("raw/sessions" in mail and "operator@example.com" in mail for mail in outbox)

    second = stale_data_alert_sensor(context)  # the same stale state: no second e-mail
    assert "already_alerted" in second.skip_message and "outbox" not in second.skip_message
    assert db.execute("SELECT count(*), min(occurrences) FROM reports.alert_incidents").fetchone() == (
        len(incidents), 2)


def test_recent_hourly_data_is_fresh(defs, dagster_instance):
    newest_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    snapshot(defs, dagster_instance, newest_hour)
    checks = evaluate_checks(defs, dagster_instance)
    assert checks["raw/sessions"].passed and checks["raw/usage_events"].passed
    assert checks["marts/fct_usage_hourly"].passed
    assert not checks["marts/fct_usage_daily"].passed  # yesterday was never rolled up: still overdue
