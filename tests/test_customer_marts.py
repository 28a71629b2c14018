"""The customer marts (signups, subscription and activity churn, funnel, plan utilization,
cohort retention, LTV), built by real Dagster runs of real dbt on a simulated product, equal an
independent pandas computation from the source tables (app.*).

The expectations are written from docs/metrics.md ("Customers, churn and funnel"), not from the
SQL: subscription rows are half-open intervals [started_at, ended_at); a paid row is neither a
trial nor on a free plan; quarantined sessions and events are excluded with the same helpers
as the usage marts' test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest

from tests.conftest import reset_warehouse
from tests.usage_expectations import hour_end_storage, read, valid_events, valid_sessions

END = datetime(2026, 3, 11, tzinfo=UTC)
DAYS = 40  # Dagster spends ~0.1 s per hourly partition: 40 days keep the module near 2 minutes
ACTIVITY_CHURN_DAYS = 30  # the defaults in dbt_project.yml
ACTIVATION_WINDOW_DAYS = 7
CUSTOMER_MODELS = [
    "fct_signups_daily", "fct_subscription_churn_monthly", "fct_activity_churn_monthly",
    "fct_plan_utilization_monthly", "fct_funnel_daily", "fct_cohort_retention_monthly",
    "fct_customer_ltv",
]
TS_END = pd.Timestamp(END)


@pytest.fixture(scope="module")
def built(warehouse_url: str, dagster_instance):
    from orchestration.definitions import defs
    from orchestration.pipeline import run_layers
    from orchestration.source.simulator import apply_source_schema, simulate_history

    keys = {k.path[-1] for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert set(CUSTOMER_MODELS) <= keys, "the dbt manifest Dagster loaded predates the customer marts"

    reset_warehouse(warehouse_url)
    with psycopg.connect(warehouse_url) as conn:
        apply_source_schema(conn)
        simulate_history(conn, accounts=70, days=DAYS, seed=5, end=END, late_rate=0.02, bad_rate=0.01)
        cases = _inject_churn_cases(conn)
        conn.commit()
    runs = run_layers(defs, dagster_instance, END - timedelta(days=DAYS), END)
    assert all(r.success for r in runs), runs
    return cases


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


# -- the source, read independently --------------------------------------------------------


def _ts(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for c in columns:
        frame[c] = pd.to_datetime(frame[c], utc=True)
    return frame


def accounts(db) -> pd.DataFrame:
    return _ts(read(db, "SELECT account_id, user_type, acquisition_channel, country, signup_at "
                        "FROM app.accounts"), "signup_at")


def subscriptions(db) -> pd.DataFrame:
    subs = _ts(read(db, "SELECT s.*, p.tier, p.monthly_price, p.annual_price FROM app.subscriptions s "
                        "JOIN app.plans p USING (plan_id)"), "started_at", "ended_at")
    subs["paid"] = ~subs.is_trial & (subs.tier > 0)
    subs["price"] = np.where(subs.billing_period == "annual", (subs.annual_price.astype(float) / 12).round(2),
                             subs.monthly_price.astype(float))
    subs.loc[~subs.paid, "price"] = 0.0
    return subs


def paid_in_force(subs: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    p = subs[subs.paid]
    return p[(p.started_at <= at) & (p.ended_at.isna() | (p.ended_at > at))]


def churn_events(subs: pd.DataFrame) -> pd.DataFrame:
    """Paid rows that end with no paid row of the account in force at that instant."""
    paid = subs[subs.paid]
    rows = []
    for row in paid[paid.ended_at.notna()].itertuples():
        mine = paid[paid.account_id == row.account_id]
        covered = ((mine.started_at <= row.ended_at)
                   & (mine.ended_at.isna() | (mine.ended_at > row.ended_at))).any()
        if not covered:
            rows.append((row.account_id, row.ended_at, row.end_reason == "non_payment"))
    return pd.DataFrame(rows, columns=["account_id", "churned_at", "involuntary"])


def months(db) -> list[pd.Timestamp]:
    first = accounts(db).signup_at.min().tz_convert(None).to_period("M").start_time
    return list(pd.date_range(first, TS_END.tz_convert(None) - pd.Timedelta(microseconds=1),
                              freq="MS", tz="UTC"))


def active_dates(db) -> dict[int, set]:
    s, e = valid_sessions(db), valid_events(db)
    days = pd.concat([
        pd.DataFrame({"account_id": s.account_id, "day": s.started_at.dt.date}),
        pd.DataFrame({"account_id": e.account_id, "day": e.occurred_at.dt.date}),
    ])
    return {a: set(g.day) for a, g in days.groupby("account_id")}


def _month_end(m: pd.Timestamp) -> pd.Timestamp:
    return m + pd.offsets.MonthBegin(1)


def _close(a, b, tol=1e-6) -> bool:
    if pd.isna(a) or pd.isna(b):
        return pd.isna(a) and pd.isna(b)
    return abs(float(a) - float(b)) <= tol


# -- tests -----------------------------------------------------------------------------------


def test_signups_daily(built, db):
    a = accounts(db)
    a["signup_date"] = a.signup_at.dt.date
    expected = a.groupby(["signup_date", "user_type", "acquisition_channel", "country"]).size()
    actual = read(db, "SELECT * FROM marts.fct_signups_daily").set_index(
        ["signup_date", "user_type", "acquisition_channel", "country"])
    assert actual.signups.sum() == len(a) > 50
    assert actual.signups.sort_index().to_dict() == expected.sort_index().to_dict()
    per_day = a.groupby("signup_date").size()
    peaks = {d for d, n in per_day.items()
             if n == per_day[[x for x in per_day.index if (x.year, x.month) == (d.year, d.month)]].max()}
    flagged = set(actual[actual.is_peak].reset_index().signup_date)
    assert flagged == peaks


def test_subscription_churn_counts_and_denominators(built, db):
    subs = subscriptions(db)
    events = churn_events(subs)
    actual = read(db, "SELECT * FROM marts.fct_subscription_churn_monthly").sort_values("month_start")
    assert [pd.Timestamp(m, tz="UTC") for m in actual.month_start] == months(db)
    assert len(events) > 0, "the simulation should produce subscription churn"
    total_churned = 0
    for row in actual.itertuples():
        start = pd.Timestamp(row.month_start, tz="UTC")
        end = _month_end(start)
        paying = set(paid_in_force(subs, start).account_id)
        in_month = events[(events.churned_at >= start) & (events.churned_at < end)]
        last = in_month.sort_values("churned_at").groupby("account_id").last()
        from_start = last[last.index.isin(paying)]
        expected = {
            "is_complete_month": end <= TS_END,
            "paying_accounts_at_month_start": len(paying),
            "churned_accounts": len(last),
            "voluntary_churned_accounts": int((~last.involuntary).sum()),
            "involuntary_churned_accounts": int(last.involuntary.sum()),
            "churned_accounts_paying_at_start": len(from_start),
            "voluntary_churned_paying_at_start": int((~from_start.involuntary).sum()),
            "involuntary_churned_paying_at_start": int(from_start.involuntary.sum()),
        }
        assert {k: getattr(row, k) for k in expected} == expected, row.month_start
        rate = round(len(from_start) / len(paying), 4) if paying else None
        assert _close(row.subscription_churn_rate, rate), row.month_start
        total_churned += len(last)
    assert total_churned > 0
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
    n = ACTIVITY_CHURN_DAYS
    active = active_dates(db)
    last_day = (TS_END - pd.Timedelta(microseconds=1)).date()
    actual = read(db, "SELECT * FROM marts.fct_activity_churn_monthly").sort_values("month_start")
    assert (actual.activity_churn_days == n).all()
    seen = 0
    for row in actual.itertuples():
        start = row.month_start
        end = _month_end(pd.Timestamp(start)).date()
        before = [start - timedelta(days=k) for k in range(1, n + 1)]
        cohort = [a for a, days in active.items() if any(d in days for d in before)]
        churned = 0
        for a in cohort:
            days = active[a]
            t = start
            while t < end and t <= last_day:
                # day t completes an n-day streak: t-n was active, t-n+1 .. t were not
                if (t - timedelta(days=n)) in days and not any(
                        (t - timedelta(days=k)) in days for k in range(n)):
                    churned += 1
                    break
                t += timedelta(days=1)
        assert (row.active_accounts_before_month_start, row.activity_churned_accounts) == (
            len(cohort), churned), start
        assert _close(row.activity_churn_rate, round(churned / len(cohort), 4) if cohort else None)
        seen += len(cohort)
    assert seen > 0


def test_funnel_counts(built, db):
    a, subs, s = accounts(db), subscriptions(db), valid_sessions(db)
    first = s.groupby("account_id").started_at.min()
    a["activated"] = a.account_id.map(first) < a.signup_at + pd.Timedelta(days=ACTIVATION_WINDOW_DAYS)
    a["trial"] = a.account_id.isin(subs[subs.is_trial].account_id)
    a["paid"] = a.account_id.isin(subs[subs.paid].account_id)
    a["signup_date"] = a.signup_at.dt.date
    expected = a.groupby(["signup_date", "user_type"]).agg(
        signups=("account_id", "size"), activated_accounts=("activated", "sum"),
        trial_accounts=("trial", "sum"), paid_accounts=("paid", "sum"),
        trial_and_paid_accounts=("trial", lambda t: int((t & a.loc[t.index, "paid"]).sum())),
    ).astype("int64")
    actual = read(db, "SELECT * FROM marts.fct_funnel_daily").set_index(["signup_date", "user_type"])
    assert actual[expected.columns].astype("int64").sort_index().equals(expected.sort_index())
    assert expected.activated_accounts.sum() > 0 and expected.paid_accounts.sum() > 0
    rates = (expected.paid_accounts / expected.signups).round(4)
    assert np.allclose(actual.paid_conversion_rate.astype(float).sort_index(), rates.sort_index())


def test_plan_utilization_for_a_sample_of_accounts(built, db):
    subs = subscriptions(db)
    plans = read(db, "SELECT * FROM app.plans").set_index("plan_id")
    s, e, storage = valid_sessions(db), valid_events(db), hour_end_storage(db)
    actual = read(db, "SELECT * FROM marts.fct_plan_utilization_monthly")
    assert len(actual) > 0
    sample = sorted(actual.account_id.unique())[::4]
    checked = 0
    for row in actual[actual.account_id.isin(sample)].itertuples():
        start = pd.Timestamp(row.usage_month, tz="UTC")
        end = _month_end(start)
        mine = subs[(subs.account_id == row.account_id) & (subs.started_at <= end)
                    & (subs.ended_at.isna() | (subs.ended_at > end))]
        plan = mine.plan_id.iloc[0] if len(mine) else None
        assert (None if pd.isna(row.plan_id) else row.plan_id) == plan, (row.account_id, start)
        ss = s[(s.account_id == row.account_id) & (s.started_at >= start) & (s.started_at < end)]
        ee = e[(e.account_id == row.account_id) & (e.occurred_at >= start) & (e.occurred_at < end)
               & (e.event_type == "export")]
        st = storage[(storage.account_id == row.account_id) & (storage.hour_start >= start)
                     & (storage.hour_start < end)].sort_values("hour_start")
        usage = {"audio_minutes": ss.audio_minutes.sum(), "sessions": len(ss),
                 "exports": ee.quantity.sum(),
                 "storage_mb": st.storage_used_mb.iloc[-1] if len(st) else None}
        for dim, column in [("audio_minutes", "audio_minutes"), ("sessions", "sessions"),
                            ("exports", "exports"), ("storage_mb", "storage")]:
            limit = plans.loc[plan, f"limit_{dim}"] if plan else None
            pct = None
            if limit is not None and not pd.isna(limit) and usage[dim] is not None:
                pct = round(100 * float(usage[dim]) / float(limit), 2)
            assert _close(getattr(row, f"{column}_utilization_pct"), pct, 0.011), (row.account_id, start, dim)
        checked += 1
    assert checked >= 5
    # the trend is the change from the account's previous month
    ordered = actual.sort_values(["account_id", "usage_month"])
    prev = ordered.groupby("account_id").max_utilization_pct.shift()
    diff = ordered.max_utilization_pct.astype(float) - prev.astype(float)
    assert all(_close(x, y) for x, y in zip(ordered.max_utilization_pct_change_mom, diff))


def test_cohort_sizes_and_retention(built, db):
    a, subs, active = accounts(db), subscriptions(db), active_dates(db)
    a["cohort"] = a.signup_at.dt.tz_convert(None).dt.to_period("M").dt.start_time.dt.tz_localize("UTC")
    actual = read(db, "SELECT * FROM marts.fct_cohort_retention_monthly")
    complete = [m for m in months(db) if _month_end(m) <= TS_END]
    expected_keys = {(c.date(), k) for c in a.cohort.unique() for k, m in enumerate(
        [m for m in complete if m >= c])}
    assert set(zip(actual.cohort_month, actual.months_since_signup)) == expected_keys
    for row in actual.itertuples():
        cohort = a[a.cohort == pd.Timestamp(row.cohort_month, tz="UTC")]
        period = pd.Timestamp(row.period_month, tz="UTC")
        end = _month_end(period)
        paying = paid_in_force(subs, end)
        paying = paying[paying.account_id.isin(cohort.account_id)]
        act = sum(1 for x in cohort.account_id
                  if any(period.date() <= d < end.date() for d in active.get(x, ())))
        assert (row.cohort_accounts, row.paying_accounts, row.active_accounts) == (
            len(cohort), paying.account_id.nunique(), act), (row.cohort_month, row.period_month)
        assert _close(row.mrr, round(paying.price.sum(), 2), 0.006)
    month0 = actual[actual.months_since_signup == 0].set_index("cohort_month")
    for row in actual.itertuples():
        base = month0.loc[row.cohort_month]
        want = round(row.paying_accounts / base.paying_accounts, 4) if base.paying_accounts else None
        assert _close(row.logo_retention_rate, want)


def test_customer_ltv(built, db):
    a, subs = accounts(db), subscriptions(db)
    events = churn_events(subs)
    cohort = a.set_index("account_id").signup_at.dt.tz_convert(None).dt.to_period("M").dt.start_time
    obs = []
    for m in months(db):
        end = _month_end(m)
        if end > TS_END:
            continue
        for r in paid_in_force(subs, m).itertuples():
            churned = ((events.account_id == r.account_id) & (events.churned_at >= m)
                       & (events.churned_at < end)).any()
            obs.append((r.plan_id, cohort[r.account_id].date(), r.account_id, r.price, churned))
    o = pd.DataFrame(obs, columns=["plan_id", "cohort_month", "account_id", "price", "churned"])
    g = o.groupby(["plan_id", "cohort_month"]).agg(
        months=("account_id", "size"), churned=("churned", "sum"), arpa=("price", "mean"))
    actual = read(db, "SELECT * FROM marts.fct_customer_ltv").set_index(["plan_id", "cohort_month"])
    assert sorted(actual.index) == sorted(g.index) and len(g) > 0
    for key, e in g.iterrows():
        row = actual.loc[key]
        assert (row.paying_account_months, row.churned_account_months) == (e.months, e.churned), key
        assert _close(row.arpa, round(e.arpa, 2), 0.006)
        ltv = round(e.arpa * e.months / e.churned, 2) if e.churned else None
        assert _close(row.ltv, ltv, 0.011), key


def test_no_personal_data_in_customer_marts(built, db):
    columns = read(db, "SELECT table_name, column_name FROM information_schema.columns "
                       "WHERE table_schema = 'marts'")
    mine = columns[columns.table_name.isin(CUSTOMER_MODELS)]
    assert set(mine.table_name) == set(CUSTOMER_MODELS)
    assert not mine.column_name.str.contains("owner|email").any()
