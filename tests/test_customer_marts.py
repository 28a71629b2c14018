"""The customer marts (signups, subscription and activity churn, funnel, plan utilization,
cohort retention, LTV), built by real Dagster runs of real dbt on a simulated product, equal an
independent pandas computation from the source tables (app.*).

The expectations (tests/customer_expectations.py, which the soak uses too) are written from
docs/metrics.md ("Customers, churn and funnel"), not from the SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest

from tests.customer_expectations import (
    ACTIVITY_CHURN_DAYS,
    accounts,
    churn_events,
    expected_activity_churn_monthly,
    expected_cohort_retention_monthly,
    expected_customer_ltv,
    expected_funnel_daily,
    expected_plan_utilization_monthly,
    expected_signups_daily,
    expected_subscription_churn_monthly,
    months,
    subscriptions,
)
from tests.usage_expectations import read
from tests.warehouse_fixtures import SimulatedHistory, WarehouseBuilder

END = datetime(2026, 3, 11, tzinfo=UTC)
DAYS = 40  # Dagster spends ~0.1 s per hourly partition: 40 days keep the module near 2 minutes
HISTORY = SimulatedHistory(accounts=70, days=DAYS, seed=5, end=END, late_rate=0.02, bad_rate=0.01)
CUSTOMER_MODELS = [
    "fct_signups_daily", "fct_subscription_churn_monthly", "fct_activity_churn_monthly",
    "fct_plan_utilization_monthly", "fct_funnel_daily", "fct_cohort_retention_monthly",
    "fct_customer_ltv",
]


@pytest.fixture(scope="module")
def built(build_warehouse: WarehouseBuilder):
    from orchestration.definitions import defs

    keys = {k.path[-1] for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert set(CUSTOMER_MODELS) <= keys, "the dbt manifest Dagster loaded predates the customer marts"
    return build_warehouse.simulated(HISTORY, _inject_churn_cases)


def _inject_churn_cases(conn: psycopg.Connection) -> dict[str, tuple[int, pd.Timestamp]]:
    """Make both rare cases happen: a paid row canceled for non-payment (involuntary churn) and
    a downgrade from a paid plan to free (churn, although end_reason is 'downgrade')."""
    rows = conn.execute(
        "SELECT s.subscription_id, s.account_id FROM app.subscriptions s JOIN app.plans p USING (plan_id) "
        "WHERE s.ended_at IS NULL AND NOT s.is_trial AND p.tier > 0 AND s.started_at < %s "
        "ORDER BY s.subscription_id LIMIT 2", (END - timedelta(days=20),)).fetchall()
    (unpaid_id, unpaid_account), (down_id, down_account) = rows
    unpaid_at, down_at = END - timedelta(days=10, hours=3), END - timedelta(days=15, hours=5)
    end_row = ("UPDATE app.subscriptions SET ended_at = %(at)s, end_reason = %(reason)s, "
               "status = %(status)s, updated_at = %(at)s, recorded_at = %(at)s + interval '1 second' "
               "WHERE subscription_id = %(id)s")
    conn.execute(end_row, {"at": unpaid_at, "reason": "non_payment", "status": "canceled", "id": unpaid_id})
    conn.execute(end_row, {"at": down_at, "reason": "downgrade", "status": "ended", "id": down_id})
    conn.execute(
        "INSERT INTO app.subscriptions SELECT max(subscription_id) + 1, %(account)s, 'free', 'monthly', "
        "false, %(at)s, NULL, NULL, 'active', %(at)s, %(at)s + interval '1 second' FROM app.subscriptions",
        {"account": down_account, "at": down_at})
    return {"non_payment": (unpaid_account, pd.Timestamp(unpaid_at)),
            "to_free": (down_account, pd.Timestamp(down_at))}


def _close(a, b, tol=1e-6) -> bool:
    if pd.isna(a) or pd.isna(b):
        return pd.isna(a) and pd.isna(b)
    return abs(float(a) - float(b)) <= tol


# -- tests -----------------------------------------------------------------------------------


def test_signups_daily(built, db):
    keys = ["signup_date", "user_type", "acquisition_channel", "country"]
    expected = expected_signups_daily(db).set_index(keys)
    actual = read(db, "SELECT * FROM marts.fct_signups_daily").set_index(keys)
    assert actual.signups.sum() == len(accounts(db)) > 50
    assert actual.signups.sort_index().to_dict() == expected.signups.sort_index().to_dict()
    flagged = set(actual[actual.is_peak].reset_index().signup_date)
    assert flagged == set(expected[expected.is_peak].reset_index().signup_date)


def test_subscription_churn_counts_and_denominators(built, db):
    subs = subscriptions(db)
    events = churn_events(subs)
    actual = read(db, "SELECT * FROM marts.fct_subscription_churn_monthly").sort_values("month_start")
    expected = expected_subscription_churn_monthly(db, END)
    assert [pd.Timestamp(m, tz="UTC") for m in actual.month_start] == months(db, END)
    assert list(actual.month_start) == list(expected.month_start)
    assert len(events) > 0, "the simulation should produce subscription churn"
    counts = [c for c in expected.columns if c not in ("month_start", "subscription_churn_rate")]
    for row, want in zip(actual.itertuples(), expected.itertuples()):
        assert {k: getattr(row, k) for k in counts} == {k: getattr(want, k) for k in counts}, row.month_start
        assert _close(row.subscription_churn_rate, want.subscription_churn_rate), row.month_start
    assert expected.churned_accounts.sum() > 0
    # the injected cases: a non-payment cancellation is involuntary, a downgrade to free is churn
    for case, involuntary in (("non_payment", True), ("to_free", False)):
        account, at = built[case]
        assert ((events.account_id == account) & (events.churned_at == at)
                & (events.involuntary == involuntary)).any(), case
        month = actual[actual.month_start == at.date().replace(day=1)].iloc[0]
        column = "involuntary_churned_accounts" if involuntary else "voluntary_churned_accounts"
        assert getattr(month, column) >= 1, case
    # a plan change between paid plans is never churn
    changes = subs[subs.paid & subs.end_reason.isin(["upgrade", "downgrade"])]
    follow = subs[subs.paid][["account_id", "started_at"]]
    between_paid = changes.merge(follow, left_on=["account_id", "ended_at"],
                                 right_on=["account_id", "started_at"])
    assert not set(zip(between_paid.account_id, between_paid.ended_at)) & set(
        zip(events.account_id, events.churned_at))


def test_activity_churn(built, db):
    actual = read(db, "SELECT * FROM marts.fct_activity_churn_monthly").sort_values("month_start")
    expected = expected_activity_churn_monthly(db, END, END)
    assert (actual.activity_churn_days == ACTIVITY_CHURN_DAYS).all()
    assert list(actual.month_start) == list(expected.month_start)
    for row, want in zip(actual.itertuples(), expected.itertuples()):
        assert (row.active_accounts_before_month_start, row.activity_churned_accounts) == (
            want.active_accounts_before_month_start, want.activity_churned_accounts), row.month_start
        assert _close(row.activity_churn_rate, want.activity_churn_rate)
    assert expected.active_accounts_before_month_start.sum() > 0


def test_funnel_counts(built, db):
    expected = expected_funnel_daily(db, END).set_index(["signup_date", "user_type"])
    counts = ["signups", "activated_accounts", "trial_accounts", "paid_accounts", "trial_and_paid_accounts"]
    actual = read(db, "SELECT * FROM marts.fct_funnel_daily").set_index(["signup_date", "user_type"])
    assert actual[counts].astype("int64").sort_index().equals(expected[counts].sort_index())
    assert expected.activated_accounts.sum() > 0 and expected.paid_accounts.sum() > 0
    assert np.allclose(actual.paid_conversion_rate.astype(float).sort_index(),
                       expected.paid_conversion_rate.sort_index())


def test_plan_utilization(built, db):
    actual = read(db, "SELECT * FROM marts.fct_plan_utilization_monthly")
    assert len(actual) > 0
    expected = expected_plan_utilization_monthly(db, actual).set_index(["account_id", "usage_month"])
    checked = 0
    for row in actual.itertuples():
        want = expected.loc[(row.account_id, row.usage_month)]
        assert (None if pd.isna(row.plan_id) else row.plan_id) == (None if pd.isna(want.plan_id) else want.plan_id), (
            row.account_id, row.usage_month)
        for column in ("audio_minutes", "sessions", "exports", "storage"):
            pct = f"{column}_utilization_pct"
            assert _close(getattr(row, pct), want[pct], 0.011), (row.account_id, row.usage_month, column)
        checked += 1
    assert checked >= 5
    # the trend is the change from the account's previous month
    ordered = actual.sort_values(["account_id", "usage_month"])
    prev = ordered.groupby("account_id").max_utilization_pct.shift()
    diff = ordered.max_utilization_pct.astype(float) - prev.astype(float)
    assert all(_close(x, y) for x, y in zip(ordered.max_utilization_pct_change_mom, diff))


def test_cohort_sizes_and_retention(built, db):
    actual = read(db, "SELECT * FROM marts.fct_cohort_retention_monthly")
    expected = expected_cohort_retention_monthly(db, END, END).set_index(["cohort_month", "period_month"])
    assert set(zip(actual.cohort_month, actual.months_since_signup)) == set(
        zip(expected.index.get_level_values("cohort_month"), expected.months_since_signup))
    for row in actual.itertuples():
        want = expected.loc[(row.cohort_month, row.period_month)]
        assert (row.cohort_accounts, row.paying_accounts, row.active_accounts) == (
            want.cohort_accounts, want.paying_accounts, want.active_accounts), (row.cohort_month, row.period_month)
        assert _close(row.mrr, want.mrr, 0.006)
        assert _close(row.logo_retention_rate, want.logo_retention_rate)
        assert _close(row.cohort_mrr_retention_rate, want.cohort_mrr_retention_rate)
        assert _close(row.revenue_retention_rate, row.cohort_mrr_retention_rate, 0)  # the deprecated alias


def test_customer_ltv(built, db):
    expected = expected_customer_ltv(db, END).set_index(["plan_id", "cohort_month"])
    actual = read(db, "SELECT * FROM marts.fct_customer_ltv").set_index(["plan_id", "cohort_month"])
    assert sorted(actual.index) == sorted(expected.index) and len(expected) > 0
    for key, e in expected.iterrows():
        row = actual.loc[key]
        assert (row.paying_account_months, row.churned_account_months) == (
            e.paying_account_months, e.churned_account_months), key
        assert _close(row.arpa, e.arpa, 0.006)
        assert _close(row.ltv, e.ltv, 0.011), key


def test_no_personal_data_in_customer_marts(built, db):
    columns = read(db, "SELECT table_name, column_name FROM information_schema.columns "
                       "WHERE table_schema = 'marts'")
    mine = columns[columns.table_name.isin(CUSTOMER_MODELS)]
    assert set(mine.table_name) == set(CUSTOMER_MODELS)
    assert not mine.column_name.str.contains("owner|email").any()
