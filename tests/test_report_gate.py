"""The report gate: great-expectations suites on report inputs, run as blocking Dagster checks.

Fast tests validate hand-made datasets; the module fixture builds the small simulated warehouse
of the report tests (every report materialized through Dagster, so every suite ran on real marts)
and then delivers and breaks reports through real Dagster runs against a real SMTP server.
"""

from __future__ import annotations

from datetime import date

import dagster as dg
import pandas as pd
import pytest

from expectations.gate import validate_report_input
from orchestration.dagster_internals import latest_check_evaluation, step_failure_errors
from orchestration.defs.alerts import operator_alert_on_run_failure
from orchestration.defs.report_delivery import report_delivery_key
from orchestration.defs.reports import report_artifacts_key, report_input_key
from reports.catalogue import load_catalogue
from reports.periods import period_for
from tests.report_warehouse import PERIODS, QUIET, BuiltReports, build_reports
from tests.smtp_server import LocalSmtpServer

MARCH = period_for("monthly", "2026-03-01")


def revenue_dataset() -> dict[str, pd.DataFrame]:
    bridge = pd.DataFrame({
        "mrr_month": [date(2026, 2, 1), date(2026, 3, 1)], "starting_mrr": [100.0, 150.0],
        "new_mrr": [60.0, 20.0], "expansion_mrr": [0.0, 10.0], "contraction_mrr": [-5.0, 0.0],
        "churned_mrr": [-5.0, -30.0], "reactivation_mrr": [0.0, 0.0], "ending_mrr": [150.0, 150.0],
        "arpa": [10.0, 10.0], "nrr": [0.9, 0.87], "grr": [0.9, 0.8], "paying_customers": [15, 15]})
    movements = pd.DataFrame({"movement": ["new", "expansion", "churn", "unchanged"],
                              "plan_id": ["pro", "pro", "basic", "pro"], "accounts": [2, 1, 3, 9],
                              "mrr_change": [20.0, 10.0, -30.0, 0.0], "ending_mrr": [20.0, 40.0, 0.0, 90.0]})
    revenue = pd.DataFrame({"plan_id": ["pro"], "currency": ["USD"], "invoices": [3], "subscription_revenue": [100.0],
                            "overage_revenue": [5.0], "total_revenue": [105.0], "collected_revenue": [100.0],
                            "failed_revenue": [5.0]})
    churn = pd.DataFrame({"month_start": [date(2026, 3, 1)], "paying_accounts_at_month_start": [15],
                          "churned_accounts": [3], "voluntary_churned_accounts": [2],
                          "involuntary_churned_accounts": [1], "subscription_churn_rate": [0.2],
                          "active_accounts_before_month_start": [20], "activity_churned_accounts": [1],
                          "activity_churn_rate": [0.05]})
    return {"mrr_bridge": bridge, "mrr_movements": movements, "revenue_by_plan": revenue, "churn": churn}


def test_a_consistent_dataset_and_an_empty_period_pass():
    assert validate_report_input("monthly_revenue", revenue_dataset(), MARCH).success
    empty = {name: frame.iloc[0:0] for name, frame in revenue_dataset().items()}
    assert validate_report_input("monthly_revenue", empty, MARCH).success


def test_movements_that_do_not_add_up_to_the_bridge_name_the_expectation_and_the_movement():
    dataset = revenue_dataset()
    dataset["mrr_bridge"].loc[1, "new_mrr"] = 30.0  # the accounts' new movements add up to 20
    result = validate_report_input("monthly_revenue", dataset, MARCH)
    assert not result.success
    failure = next(f for f in result.failures if f.column == "movements_minus_bridge")
    assert failure.expectation == "expect_column_values_to_be_between"
    assert failure.failing_rows == [{"movement": "new", "movements_minus_bridge": -10.0}]
    assert "account movements add up to the bridge's movement column" in result.describe()


def test_the_bridge_closing_is_the_marts_invariant_not_the_reports():
    # The report reads fct_mrr_summary_monthly as it is; the dbt test assert_mrr_bridge_reconciles
    # guards its closing (tests/test_mrr_bridge_home.py), so the report suite does not check it again.
    dataset = revenue_dataset()
    dataset["mrr_bridge"].loc[1, "ending_mrr"] = 160.0
    assert validate_report_input("monthly_revenue", dataset, MARCH).success


def test_nulls_negatives_out_of_period_rows_and_missing_tables_are_named():
    dataset = revenue_dataset()
    dataset["revenue_by_plan"].loc[0, "overage_revenue"] = -5.0
    dataset["mrr_movements"].loc[3, "plan_id"] = None
    dataset["churn"].loc[0, "month_start"] = date(2026, 4, 1)
    result = validate_report_input("monthly_revenue", dataset, MARCH)
    failed = {(f.table, f.column, f.expectation) for f in result.failures}
    assert ("revenue_by_plan", "overage_revenue", "expect_column_values_to_be_between") in failed
    assert ("mrr_movements", "plan_id", "expect_column_values_to_not_be_null") in failed
    assert ("revenue_by_plan", "parts_minus_total", "expect_column_values_to_be_between") in failed
    assert ("churn", "month_start", "expect_column_values_to_be_between") in failed
    del dataset["churn"]
    missing = validate_report_input("monthly_revenue", dataset, MARCH)
    assert any(f.table == "churn" and "missing" in (f.error or "") for f in missing.failures)
    with pytest.raises(KeyError, match="no expectation suite"):
        validate_report_input("not_a_report", dataset, MARCH)


def test_every_catalogue_report_has_a_suite():
    from expectations.report_suites import SUITES

    assert set(load_catalogue()) <= set(SUITES)


# --- through Dagster, on the simulated warehouse --------------------------------------------------

@pytest.fixture(scope="module")
def built(warehouse_url: str, dagster_instance, tmp_path_factory) -> BuiltReports:
    artifacts_dir = tmp_path_factory.mktemp("artifacts")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ARTIFACTS_DIR", str(artifacts_dir))
        yield build_reports(warehouse_url, dagster_instance, artifacts_dir)


@pytest.fixture()
def smtp(monkeypatch: pytest.MonkeyPatch):
    with LocalSmtpServer() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("REPORT_INTERNAL_RECIPIENTS", "finance@example.test")
        monkeypatch.setenv("OPERATOR_EMAIL", "operator@example.test")
        yield server


def run_report(instance: dg.DagsterInstance, report_id: str, *, with_delivery: bool = True):
    from orchestration.definitions import defs

    spec = load_catalogue()[report_id]
    keys = [report_input_key(report_id), report_artifacts_key(report_id)]
    keys += [report_delivery_key(report_id)] if with_delivery else []
    return defs.resolve_job_def(f"reports_{spec.schedule}_job").execute_in_process(
        instance=instance, partition_key=PERIODS[spec.schedule], run_config=QUIET, asset_selection=keys,
        raise_on_error=False)


def test_every_report_input_passed_its_gate_on_the_marts(built, dagster_instance):
    for report_id, spec in load_catalogue().items():
        key = dg.AssetCheckKey(report_input_key(report_id), "input_expectations")
        checked = latest_check_evaluation(dagster_instance, key)
        assert checked, f"{report_id}: the gate did not run"
        evaluation = checked.evaluation
        assert evaluation.passed, f"{report_id}: {evaluation.description}"
        assert evaluation.partition == PERIODS[spec.schedule]


def test_delivery_runs_after_the_gate_and_a_rerun_sends_nothing(built, dagster_instance, smtp, db):
    result = run_report(dagster_instance, "usage_summary")
    assert result.success
    # one message per owner address (an owner of several accounts gets them in one message)
    owners = db.execute("SELECT count(DISTINCT trim(a.owner_email)) FROM reports.report_artifacts r"
                        " JOIN raw.accounts a ON a.account_id = r.account_id WHERE r.report_id = 'usage_summary'"
                        " AND r.period = %s AND a.owner_email LIKE '%%@%%'", (PERIODS["monthly"],)).fetchone()[0]
    assert owners > 0 and len(smtp.messages) == owners
    delivery = result.asset_materializations_for_node("reports__usage_summary_delivery")[0].metadata
    assert (delivery["sent"].value, delivery["already_sent"].value) == (owners, 0)
    names = {part.get_filename() for _, m in smtp.messages for part in m.iter_attachments()}
    assert {n.rsplit(".", 1)[1] for n in names} == {"pdf", "csv", "xlsx", "txt"}

    again = run_report(dagster_instance, "usage_summary")
    assert again.success and len(smtp.messages) == owners
    delivery = again.asset_materializations_for_node("reports__usage_summary_delivery")[0].metadata
    assert (delivery["sent"].value, delivery["already_sent"].value) == (0, owners)


def test_a_broken_row_blocks_rendering_and_delivery_and_alerts_once(built, dagster_instance, smtp, db):
    month = PERIODS["monthly"]
    db.execute("UPDATE marts.fct_mrr_summary_monthly SET new_mrr = new_mrr + 10 WHERE mrr_month = %s", (month,))
    try:
        result = run_report(dagster_instance, "monthly_revenue")
    finally:
        db.execute("UPDATE marts.fct_mrr_summary_monthly SET new_mrr = new_mrr - 10 WHERE mrr_month = %s", (month,))
    assert not result.success
    evaluation = next(e for e in result.get_asset_check_evaluations() if e.check_name == "input_expectations")
    assert not evaluation.passed
    assert "movements_minus_bridge" in evaluation.description and "movement=new" in evaluation.description
    assert "account movements add up to the bridge" in evaluation.description
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == {report_input_key("monthly_revenue")}
    assert smtp.messages == []
    assert db.execute("SELECT count(*) FROM reports.delivery_ledger WHERE report_id = 'monthly_revenue'"
                      ).fetchone()[0] == 0

    run = dagster_instance.get_run_by_id(result.run_id)
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    context = dg.build_run_status_sensor_context(
        sensor_name="operator_alert_on_run_failure", dagster_event=failure, dagster_instance=dagster_instance,
        dagster_run=run).for_run_failure()
    operator_alert_on_run_failure(context)
    operator_alert_on_run_failure(context)  # the sensor seeing the run again mails nothing more
    assert [rcpts for rcpts, _ in smtp.messages] == [["operator@example.test"]]
    alert = smtp.messages[0][1]
    assert "input_expectations failed on reports/monthly_revenue_input (2026-02-01)" in alert["Subject"]
    assert "movements_minus_bridge" in alert.get_body(("plain",)).get_content()

    # the files rendered before the data broke are still there, but delivering them alone is refused
    from orchestration.definitions import defs

    alone = defs.resolve_job_def("reports_monthly_job").execute_in_process(
        instance=dagster_instance, partition_key=month, run_config=QUIET, raise_on_error=False,
        asset_selection=[report_delivery_key("monthly_revenue")])
    assert not alone.success
    failure = next(e for e in alone.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "its input failed input_expectations" in step_failure_errors(failure)[0].message
    assert len(smtp.messages) == 1

    # with the data fixed (the finally above), the period is checked, rendered and delivered once
    fixed = run_report(dagster_instance, "monthly_revenue")
    assert fixed.success
    assert [rcpts for rcpts, _ in smtp.messages] == [["operator@example.test"], ["finance@example.test"]]


# --- daily suites on raw inputs and key marts -------------------------------------------------------

def run_warehouse_expectations(instance: dg.DagsterInstance):
    from orchestration.definitions import defs

    return defs.resolve_job_def("warehouse_expectations_job").execute_in_process(
        instance=instance, run_config=QUIET, raise_on_error=False)


def test_warehouse_suites_pass_on_the_marts_and_name_broken_rows_without_personal_data(
        built, dagster_instance, smtp, db):
    clean = run_warehouse_expectations(dagster_instance)
    assert clean.success
    evaluations = {e.asset_key.to_user_string(): e for e in clean.get_asset_check_evaluations()}
    assert set(evaluations) == {"raw/plans", "raw/accounts", "marts/fct_mrr_monthly",
                                "marts/fct_mrr_summary_monthly", "marts/fct_revenue_monthly"}
    assert all(e.passed for e in evaluations.values()), [e.description for e in evaluations.values()]

    account, email = db.execute("SELECT account_id, owner_email FROM raw.accounts WHERE owner_email IS NOT NULL"
                                " ORDER BY account_id LIMIT 1").fetchone()
    row = db.execute("SELECT account_id, mrr_month FROM marts.fct_mrr_monthly WHERE movement = 'new'"
                     " ORDER BY account_id LIMIT 1").fetchone()
    db.execute("UPDATE raw.accounts SET owner_email = 'owner at nowhere' WHERE account_id = %s", (account,))
    db.execute("UPDATE marts.fct_mrr_monthly SET movement = 'expansion' WHERE account_id = %s AND mrr_month = %s",
               row)
    try:
        broken = run_warehouse_expectations(dagster_instance)
        run_warehouse_expectations(dagster_instance)  # the same failures again: no new alerts
    finally:
        db.execute("UPDATE raw.accounts SET owner_email = %s WHERE account_id = %s", (email, account))
        db.execute("UPDATE marts.fct_mrr_monthly SET movement = 'new' WHERE account_id = %s AND mrr_month = %s",
                   row)
    assert broken.success  # non-blocking: shown and mailed, not a failed run
    evaluations = {e.asset_key.to_user_string(): e for e in broken.get_asset_check_evaluations()}
    accounts = evaluations["raw/accounts"]
    assert not accounts.passed and accounts.severity == dg.AssetCheckSeverity.WARN
    assert f"account_id={account}" in accounts.description and "owner_email_is_valid=False" in accounts.description
    assert "nowhere" not in accounts.description and email not in accounts.description
    mrr = evaluations["marts/fct_mrr_monthly"]
    # a 'new' row relabelled 'expansion': an expansion needs MRR the month before
    assert f"account_id={row[0]}" in mrr.description
    assert "marts.fct_mrr_monthly:expansion.previous_mrr" in mrr.description
    assert evaluations["marts/fct_revenue_monthly"].passed
    subjects = sorted(m["Subject"] for _, m in smtp.messages)
    assert subjects == ["[usage-analytics] Expectations failed on marts.fct_mrr_monthly",
                        "[usage-analytics] Expectations failed on raw.accounts"]
