"""The MRR and revenue marts, built by real Dagster runs of real dbt on a simulated product,
equal an independent pandas computation from the source tables, and the MRR bridge closes.

The simulator writes 60 accounts over 75 days up to 2026-03-20; seed 44 produces every
movement kind, reactivation included. The pipeline runs over the last 28 days only (the hourly
snapshot layer costs most of the module's time): subscriptions are extracted cumulatively, so
the MRR marts still see the whole subscription history (seeded back to 2025, complete months
through February 2026), and the revenue marts see the invoices of the run's window, which spans
the February/March boundary.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest

from tests.revenue_expectations import expected_mrr_monthly, expected_revenue_monthly
from tests.usage_expectations import read
from tests.warehouse_fixtures import SimulatedHistory, WarehouseBuilder

END = datetime(2026, 3, 20, tzinfo=UTC)
DAYS = 75
HISTORY = SimulatedHistory(accounts=60, days=DAYS, seed=44, end=END, late_rate=0.02, bad_rate=0.01, run_days=28)
RUN_START = HISTORY.run_start
MOVEMENTS = ("new", "expansion", "contraction", "churn", "reactivation")


@pytest.fixture(scope="module")
def built(build_warehouse: WarehouseBuilder) -> None:
    build_warehouse.simulated(HISTORY)


def test_mrr_per_account_month_equals_independent_computation(built, db):
    actual = read(db, "SELECT account_id, mrr_month, mrr, previous_mrr, mrr_change, movement, "
                      "plan_id FROM marts.fct_mrr_monthly")
    expected = expected_mrr_monthly(db, END)
    keys = ["account_id", "mrr_month"]
    assert len(actual) == len(expected) > 0
    merged = actual.merge(expected, on=keys, how="outer", suffixes=("", "_expected"),
                          indicator=True)
    assert (merged._merge == "both").all(), merged[merged._merge != "both"].head(10)
    for column in ("mrr", "previous_mrr", "mrr_change", "movement", "plan_id"):
        bad = merged[merged[column] != merged[f"{column}_expected"]]
        assert bad.empty, (column, bad[keys + [column, f"{column}_expected"]].head(10))
    # the last complete month before END is February 2026; every movement kind occurs
    assert actual.mrr_month.max() == pd.Timestamp("2026-02-01").date()
    assert set(MOVEMENTS) <= set(actual.movement), actual.movement.value_counts()
    # churn is reported under the plan churned from, a paid one
    paid_plans = set(read(db, "SELECT plan_id FROM app.plans WHERE tier > 0").plan_id)
    assert set(actual[actual.movement == "churn"].plan_id) <= paid_plans


def test_mrr_bridge_reconciles_every_month(built, db):
    summary = read(db, "SELECT * FROM marts.fct_mrr_summary_monthly ORDER BY mrr_month")
    assert len(summary) > 3
    movements = summary[[f"{m}_mrr" for m in ("new", "expansion", "contraction", "churned",
                                              "reactivation")]].sum(axis=1)
    assert (summary.starting_mrr + movements == summary.ending_mrr).all()
    assert (summary.ending_mrr.iloc[:-1].to_numpy() == summary.starting_mrr.iloc[1:].to_numpy()).all()
    assert summary.starting_mrr.iloc[0] == 0
    assert (summary.contraction_mrr <= 0).all() and (summary.churned_mrr <= 0).all()
    assert (summary.reactivation_mrr > 0).any(), "the simulated data should hold a reactivation"
    assert (summary.arr == summary.ending_mrr * 12).all()

    # the bridge is the per-account table summed by month
    expected = expected_mrr_monthly(db, END)
    ending = expected.groupby("mrr_month").mrr.sum()
    assert dict(zip(summary.mrr_month, summary.ending_mrr, strict=True)) == ending.to_dict()
    paying = expected[expected.mrr > 0].groupby("mrr_month").size()
    assert dict(zip(summary.mrr_month, summary.paying_customers, strict=True)) == paying.to_dict()

    # ratios follow their stated denominators
    row = summary[summary.starting_mrr > 0].iloc[-1]
    lost = -(row.churned_mrr + row.contraction_mrr)
    assert row.grr == round((row.starting_mrr - lost) / row.starting_mrr, 4)
    assert row.nrr == round((row.starting_mrr - lost + row.expansion_mrr) / row.starting_mrr, 4)
    assert row.logo_churn_rate == round(Decimal(int(row.churned_customers)) / int(row.starting_customers), 4)


def test_revenue_monthly_equals_invoice_totals(built, db):
    actual = read(db, "SELECT * FROM marts.fct_revenue_monthly")
    expected = expected_revenue_monthly(db, RUN_START, END)
    keys = ["revenue_month", "plan_id"]
    assert (actual.currency == "USD").all()
    assert len(set(actual.revenue_month)) == 2
    assert len(actual) == len(expected) > 0
    merged = actual.merge(expected, on=keys, how="outer", suffixes=("", "_expected"),
                          indicator=True)
    assert (merged._merge == "both").all(), merged[merged._merge != "both"]
    for column in ("invoices", "subscription_revenue", "overage_revenue", "total_revenue",
                   "collected_revenue"):
        bad = merged[merged[column] != merged[f"{column}_expected"]]
        assert bad.empty, (column, bad[keys + [column, f"{column}_expected"]])
    assert (actual.total_revenue == actual.collected_revenue + actual.open_revenue
            + actual.failed_revenue).all()
    assert (actual.invoices == actual.invoices_paid + actual.invoices_open
            + actual.invoices_failed).all()
    # the daily table adds up to the monthly one
    daily_total = db.execute("SELECT sum(total_revenue) FROM marts.fct_revenue_daily").fetchone()[0]
    assert daily_total == actual.total_revenue.sum() == expected.total_revenue.sum()


def test_mart_docs_are_in_the_warehouse(built, db):
    """An analyst's `\\d+ marts.fct_mrr_summary_monthly` (or BI tool) shows dbt's documentation."""
    table_doc, column_doc = db.execute(
        "SELECT obj_description('marts.fct_mrr_summary_monthly'::regclass, 'pg_class'), "
        "col_description('marts.fct_mrr_summary_monthly'::regclass, "
        "(SELECT attnum FROM pg_attribute WHERE attrelid = 'marts.fct_mrr_summary_monthly'::regclass "
        "AND attname = 'mrr_month'))").fetchone()
    assert table_doc and "MRR" in table_doc
    assert column_doc and "First day of the UTC month" in column_doc


def test_revenue_report_lists_churn_under_the_plan_churned_from(built, db):
    """The monthly revenue report's movements by plan (its input model) never say plan 'none'."""
    sql = "SELECT * FROM report_inputs.rpt_monthly_revenue__mrr_movements WHERE period_start = %(period_start)s"
    paid = set(read(db, "SELECT plan_id FROM app.plans WHERE tier > 0").plan_id)
    churned = 0
    for month in read(db, "SELECT DISTINCT mrr_month FROM marts.fct_mrr_monthly").mrr_month:
        movements = read(db, sql, {"period_start": month})
        assert set(movements.plan_id) <= paid, (month, movements)
        churned += int(movements[movements.movement == "churn"].accounts.sum())
    expected = expected_mrr_monthly(db, END)
    assert churned == (expected.movement == "churn").sum() > 0
