"""Limits & plans (issue 4, part 4) and account insights (part 6).

Pure-function tests on constructed frames with hand-computed expectations (docs/metrics.md,
"Limits, plans and insights"), then one end-to-end test: a simulated warehouse built by real
Dagster runs, the two ml assets materialized twice, identical tables.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from orchestration.ml.insights import anomaly_summary, build_insights, peak_day, peer_percentiles, report_month
from orchestration.ml.limits import (
    efficiency_score,
    plan_cost,
    project_counted,
    project_limits,
    project_storage,
    recommend_plan,
    weekday_profile,
    with_pricing,
)
from orchestration.source.plans import PLANS
from tests.warehouse_fixtures import SimulatedHistory, WarehouseBuilder

# dim_plans and the dbt price list (int_plan_prices, int_plan_overage_rates) of the simulator's catalogue
PLAN_FRAME = with_pricing(
    pd.DataFrame([{"plan_id": p.plan_id, "plan_name": p.plan_name, "tier": p.tier,
                   "limit_audio_minutes": p.limit_audio_minutes, "limit_sessions": p.limit_sessions,
                   "limit_storage_mb": p.limit_storage_mb, "limit_exports": p.limit_exports} for p in PLANS]
                 ).astype({c: float for c in ("limit_audio_minutes", "limit_sessions", "limit_storage_mb",
                                              "limit_exports")}),
    pd.DataFrame([{"plan_id": p.plan_id, "billing_period": billing, "price_per_month": price} for p in PLANS
                  for billing, price in (("monthly", p.monthly_price), ("annual", round(p.annual_price / 12, 2)))]),
    pd.DataFrame([{"plan_id": p.plan_id, "dimension": dimension, "included_units": limit, "overage_unit_price": price,
                   "caps_usage": limit is not None and price == 0} for p in PLANS
                  for dimension, limit, price in (
                      ("audio_minutes", p.limit_audio_minutes, p.overage_audio_minute_price),
                      ("sessions", p.limit_sessions, p.overage_session_price),
                      ("exports", p.limit_exports, p.overage_export_price),
                      ("storage_mb", p.limit_storage_mb, p.overage_storage_mb_price))]),
)
PLAN = {p["plan_id"]: p for p in PLAN_FRAME.to_dict("records")}


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


# -- projection and reach dates ---------------------------------------------------------------


def test_flat_run_rate_projection_and_reach_dates():
    as_of = date(2026, 3, 10)
    usage = pd.Series(10.0, index=_days(date(2026, 3, 1), as_of))
    flat = [1.0] * 7
    p = project_counted(usage, as_of, flat, limit=200)
    assert p.month_to_date == 100 and p.projected == pytest.approx(310)  # 100 * 31 / 10
    assert p.reach_date == date(2026, 3, 20)  # 10 a day: 200 on the 20th
    assert project_counted(usage, as_of, flat, limit=50).reach_date == date(2026, 3, 5)  # already past
    assert project_counted(usage, as_of, flat, limit=400).reach_date is None  # 310 < 400
    assert project_counted(usage, as_of, flat, limit=None).reach_date is None
    # an account that signed up on the 6th: 5 observed days, rate 10 a day for the 21 left
    assert project_counted(usage[5:], as_of, flat).projected == pytest.approx(50 + 210)


def test_weekday_weighted_projection():
    # March 2026 starts on a Sunday. Weights: Monday 2, Tue-Fri 1, weekend 0.
    weights = [2, 1, 1, 1, 1, 0, 0]
    as_of = date(2026, 3, 4)  # Wednesday
    usage = pd.Series([0.0, 20, 10, 10], index=_days(date(2026, 3, 1), as_of))
    p = project_counted(usage, as_of, weights, limit=100)
    # observed weight 0+2+1+1 = 4 -> rate 10; Mar 5-31 weigh 6+6+6+5 = 23 -> 40 + 230
    assert p.projected == pytest.approx(270)
    # cumulative 40; Thu 5th 50, Fri 60, weekend 60, Mon 9th 80, Tue 90, Wed 11th 100
    assert p.reach_date == date(2026, 3, 11)


def test_weekday_profile_pooled_over_accounts():
    as_of = date(2026, 3, 10)
    rows = []
    for account in (1, 2):
        for d in _days(as_of - timedelta(days=27), as_of):
            minutes = 7.0 if d.weekday() == 0 else 3.5  # pooled: 14 on Mondays, 7 otherwise
            rows.append({"account_id": account, "usage_date": d, "audio_minutes_processed": minutes,
                         "sessions_created": 0, "exports_generated": 1, "storage_used_mb": None})
    profile = weekday_profile(pd.DataFrame(rows), as_of)
    # mean over weekdays (14 + 6 * 7) / 7 = 8
    assert profile["audio_minutes"].tolist() == pytest.approx([1.75] + [0.875] * 6)
    assert profile["sessions"].tolist() == [1.0] * 7  # no usage: flat
    assert profile["exports"].tolist() == pytest.approx([1.0] * 7)


def test_storage_month_end_level_and_reach_date():
    as_of = date(2026, 3, 10)
    readings = pd.Series([1000.0 + 50 * k for k in range(1, 11)], index=_days(date(2026, 3, 1), as_of))
    previous = (date(2026, 2, 28), 1000.0)
    p = project_storage(readings, as_of, limit=2000, previous=previous)
    assert p.month_to_date == 1500  # the newest reading
    assert p.projected == pytest.approx(1500 + 50 * 21)  # slope 500 / 10 days
    assert p.reach_date == date(2026, 3, 20)  # (2000 - 1500) / 50 = 10 days after the 10th
    assert project_storage(readings, as_of, 1200, previous).reach_date == date(2026, 3, 4)  # 1200 on the 4th
    assert project_storage(readings, as_of, 3000, previous).reach_date is None  # 2550 at month end
    shrinking = pd.Series([900.0, 800.0], index=[date(2026, 3, 9), as_of])
    # (800 - 1000) / 10 days = -20 a day: 800 - 20 * 21
    assert project_storage(shrinking, as_of, None, previous).projected == pytest.approx(380.0)
    assert project_storage(shrinking, as_of, None, (date(2026, 2, 28), 5000.0)).projected == 0.0  # floored


# -- plans: overage, recommendation, efficiency ------------------------------------------------


def test_plan_cost_overage_arithmetic_and_hard_caps():
    usage = {"audio_minutes": 1000, "sessions": 100, "exports": 70, "storage_mb": 5000}
    price, overage, eligible = plan_cost(usage, PLAN["starter"])
    # 100 minutes over 900 at 0.03 + 10 exports over 60 at 0.05
    assert (price, overage, eligible) == (15.0, pytest.approx(3.5), True)
    assert plan_cost(usage, PLAN["free"])[2] is False  # over the free limits, which cap (0 price)
    assert plan_cost(usage, PLAN["pro"], "annual")[0] == 32.5  # 390 / 12
    assert recommend_plan(usage, PLAN_FRAME) == ("starter", 18.5)


def test_recommended_plan_prefers_upgrade_when_overage_costs_more():
    usage = {"audio_minutes": 3000, "sessions": 200, "exports": 60, "storage_mb": 5000}
    # Starter: 15 + 2100 * 0.03 + 80 * 0.10 = 86; Pro: 39 with no overage
    price, overage, _ = plan_cost(usage, PLAN["starter"])
    assert price + overage == pytest.approx(86.0)
    assert recommend_plan(usage, PLAN_FRAME) == ("pro", 39.0)
    assert recommend_plan(usage, PLAN_FRAME, "annual") == ("pro", 32.5)
    tiny = {"audio_minutes": 100, "sessions": 10, "exports": 5, "storage_mb": 500}
    assert recommend_plan(tiny, PLAN_FRAME) == ("free", 0.0)


def test_efficiency_score():
    usage = {"audio_minutes": 450, "sessions": 30, "exports": 6, "storage_mb": 2000}
    assert efficiency_score(usage, PLAN["starter"]) == 50.0  # the highest share: 450 / 900
    assert efficiency_score({**usage, "audio_minutes": 1800}, PLAN["starter"]) == 100.0  # capped
    assert efficiency_score({**usage, "audio_minutes": 6000}, PLAN["enterprise"]) == 10.0  # only audio limited
    assert efficiency_score(usage, None) is None


def _daily_frame() -> pd.DataFrame:
    """Two accounts with the same constant usage Feb 1 - Mar 10; account 1 peaks on Feb 5 (before
    the 4-week profile window and the 30-day anomaly window)."""
    rows = []
    for account in (1, 2):
        for d in _days(date(2026, 2, 1), date(2026, 3, 10)):
            minutes = 90.0 if (account == 1 and d == date(2026, 2, 5)) else 30.0
            rows.append({"account_id": account, "usage_date": d, "audio_minutes_processed": minutes,
                         "sessions_created": 5, "exports_generated": 1, "storage_used_mb": 100.0})
    return pd.DataFrame(rows)


ACCOUNTS = pd.DataFrame({"account_id": [1, 2], "plan_id": ["starter", "pro"],
                         "billing_period": ["monthly", "monthly"], "is_trial": [False, False]})


def test_project_limits_per_account():
    out = project_limits(_daily_frame(), ACCOUNTS, PLAN_FRAME).set_index("account_id")
    assert set(out["as_of_date"]) == {date(2026, 3, 10)} and set(out["usage_month"]) == {date(2026, 3, 1)}
    one, two = out.loc[1], out.loc[2]
    # flat profile (the Feb 5 peak is outside the 4-week window): 300 * 31 / 10 = 930 minutes
    assert one["projected_audio_minutes"] == pytest.approx(930)
    assert one["audio_minutes_reach_date"] == date(2026, 3, 30)  # 30 a day reaches 900 on day 30
    assert one["projected_sessions"] == pytest.approx(155)
    assert one["sessions_reach_date"] == date(2026, 3, 24)  # 5 a day: 120 on the 24th
    assert pd.isna(one["exports_reach_date"]) and one["projected_storage_mb"] == 100
    # Starter: 15 + 30 min * 0.03 + 35 sessions * 0.10 = 19.40; Pro costs 39; Free caps usage
    assert one["projected_overage_cost"] == pytest.approx(4.4)
    assert one["projected_cost"] == pytest.approx(19.4)
    assert one["recommended_plan_id"] == "starter" and pd.isna(one["cost_saving"])
    assert one["efficiency_score"] == 100.0
    assert two["projected_cost"] == 39.0 and two["recommended_plan_id"] == "starter"
    assert two["cost_saving"] == pytest.approx(19.6)
    assert two["efficiency_score"] == 31.0  # sessions 155 / 500
    assert "19.60 less" in two["summary"]
    # on the free plan the same usage exceeds limits that cap usage (no overage price)
    free = project_limits(_daily_frame(), ACCOUNTS.assign(plan_id="free"), PLAN_FRAME).iloc[0]
    assert free["projected_cost"] == 0 and free["recommended_plan_id"] == "starter" and pd.isna(free["cost_saving"])
    assert free["summary"].startswith("Projected usage exceeds limits of the Free plan that cap usage")


# -- insights ----------------------------------------------------------------------------------


def test_peer_percentile_mid_rank_among_others():
    values = pd.Series([10, 20, 30, 40, 50, 10, 10, 30, 30, 30, 1, 2, 3], dtype=float)
    groups = pd.Series(["a"] * 5 + ["b"] * 5 + ["c"] * 3)
    out = peer_percentiles(values, groups)
    assert out["percentile"][:5].tolist() == [0, 25, 50, 75, 100]
    # ties count half: 10 -> (0 + 0.5 * 1) / 4; 30 -> (2 + 0.5 * 2) / 4
    assert out["percentile"][5:10].tolist() == [12.5, 12.5, 75, 75, 75]
    assert out["percentile"][10:].isna().all() and out["group_size"][10:].tolist() == [3, 3, 3]


def test_report_month_and_peak_day():
    assert report_month(date(2026, 3, 10)) == date(2026, 2, 1)
    assert report_month(date(2026, 3, 31)) == date(2026, 3, 1)
    days = pd.DataFrame({"usage_date": _days(date(2026, 2, 1), date(2026, 2, 4)),
                         "audio_minutes_processed": [5.0, 9.0, 9.0, 1.0]})
    assert peak_day(days) == (date(2026, 2, 2), 9.0)  # earliest of the tied days
    assert peak_day(days.assign(audio_minutes_processed=0.0)) == (None, None)


def test_build_insights():
    daily = _daily_frame()
    projections = project_limits(daily, ACCOUNTS, PLAN_FRAME)
    feb = date(2026, 2, 1)
    utilization = pd.DataFrame({
        "account_id": [1, 2, 3, 4, 5, 6, 7],
        "usage_month": [feb] * 7,
        "plan_id": ["starter", "pro", "pro", "pro", "pro", "pro", "pro"],
        "is_trial": [False] * 7,
        "max_utilization_pct": [116.67, 28.0, 5.0, 5.0, 5.0, 5.0, 5.0],
        "audio_minutes_processed": [900.0, 840, 100, 200, 300, 1000, 2000],
        "sessions_created": [140, 140, 1, 1, 1, 1, 1],
        "exports_generated": [28, 28, 0, 0, 0, 0, 0],
        "storage_used_mb": [100.0] * 7,
    })
    out = build_insights(daily, utilization, PLAN_FRAME, projections).set_index("account_id")
    assert list(out.index) == [1, 2]
    one, two = out.loc[1], out.loc[2]
    assert one["report_month"] == feb
    assert one["peak_usage_date"] == date(2026, 2, 5) and one["peak_audio_minutes"] == 90
    assert one["peak_text"] == "Busiest day in February 2026: Thursday 5 Feb 2026, with 90 audio minutes."
    # Feb: 27 * 30 + 90 = 900 minutes, projected 930: +3.3 %, but limits are reached this month
    assert one["audio_growth_pct"] == pytest.approx(3.3)
    assert one["upgrade_soon"] and "Sessions is projected to reach the Starter limit on 24 Mar 2026" in (
        one["upgrade_text"])
    assert pd.isna(one["downgrade_plan_id"])  # the starter plan is not under-used
    # Pro at 28 % utilization: Starter would cost 15 + 20 sessions * 0.10 = 17 instead of 39
    assert two["downgrade_plan_id"] == "starter" and two["downgrade_saving"] == pytest.approx(22.0)
    assert "Starter plan would have covered it for 22.00 less" in two["downgrade_text"]
    # 840 among the other pro accounts 100, 200, 300, 1000, 2000: 3 of 5 lower
    assert two["audio_minutes_percentile"] == 60.0 and two["peer_group_size"] == 6
    assert "more audio minutes than 60% of accounts on the Pro plan" in two["peer_text"]
    assert pd.isna(one["audio_minutes_percentile"]) and one["peer_group_size"] == 1
    # account 1's spike is older than 30 days; both are flat since
    assert one["anomaly_days_30d"] == 0 and pd.isna(one["latest_anomaly_date"])
    assert two["anomaly_days_30d"] == 0 and two["anomaly_text"] == "No unusual days in the last 30 days."


def test_anomaly_summary_counts_recent_flags_only():
    days = _days(date(2026, 1, 1), date(2026, 3, 10))
    rng = np.random.default_rng(3)
    values = pd.Series(100 * (1 + 0.03 * rng.standard_normal(len(days))), index=days)
    values[date(2026, 1, 20)] *= 4  # older than 30 days: not counted
    values[date(2026, 2, 20)] *= 4
    values[date(2026, 3, 3)] *= 0.1
    assert anomaly_summary(values, date(2026, 3, 10)) == (2, date(2026, 3, 3))
    assert anomaly_summary(values[-10:], date(2026, 3, 10)) == (None, None)  # too short a history
    sparse = values.where(np.arange(len(values)) % 2 == 0, 0.0)  # active every other day
    assert anomaly_summary(sparse, date(2026, 3, 10)) == (None, None)


# -- end to end ---------------------------------------------------------------------------------

END = datetime(2026, 3, 6, tzinfo=UTC)
DAYS = 34  # Jan 31 - Mar 5: February complete, March month-to-date; ~2 minutes
HISTORY = SimulatedHistory(accounts=60, days=DAYS, seed=11, end=END)


@pytest.fixture(scope="module")
def built(build_warehouse: WarehouseBuilder):
    build_warehouse.simulated(HISTORY)
    return build_warehouse.url


def _table(db, name: str) -> pd.DataFrame:
    cur = db.execute(f"SELECT * FROM {name} ORDER BY account_id")
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def test_assets_materialize_and_rerun_identically(built, db, dagster_instance):
    import dagster as dg

    from orchestration.defs.ml_accounts import ml_account_assets
    from orchestration.defs.resources import WarehouseResource

    def run() -> tuple[pd.DataFrame, pd.DataFrame]:
        result = dg.materialize(ml_account_assets, instance=dagster_instance,
                                resources={"warehouse": WarehouseResource()})
        assert result.success
        return _table(db, "ml.limit_projections"), _table(db, "ml.account_insights")

    projections, insights = run()
    accounts = db.execute("SELECT count(*) FROM marts.dim_accounts").fetchone()[0]
    assert len(projections) == len(insights) == accounts > 0
    assert set(projections["as_of_date"]) == {date(2026, 3, 5)}
    assert set(insights["report_month"]) == {date(2026, 2, 1)}
    # the month-to-date totals equal the mart's
    mtd = db.execute("SELECT account_id, sum(audio_minutes_processed) FROM marts.fct_usage_daily "
                     "WHERE usage_date >= '2026-03-01' GROUP BY 1").fetchall()
    by_account = projections.set_index("account_id")["mtd_audio_minutes"]
    for account_id, total in mtd:
        assert float(by_account[account_id]) == pytest.approx(float(total), abs=0.01)
    # projections never fall below month-to-date; a past reach date means the limit is used up
    for m in ("audio_minutes", "sessions", "exports"):
        assert (projections[f"projected_{m}"].astype(float) >= projections[f"mtd_{m}"].astype(float) - 0.01).all()
        past = projections[projections[f"{m}_reach_date"].notna()
                           & (projections[f"{m}_reach_date"] <= date(2026, 3, 5))]
        assert (past[f"mtd_{m}"].astype(float) >= past[f"limit_{m}"].astype(float) - 0.01).all()
    saving = projections[projections["cost_saving"].notna()]
    assert ((saving["projected_cost"] - saving["recommended_plan_cost"] - saving["cost_saving"]).abs()
            < 0.011).all()
    scores = projections["efficiency_score"].dropna().astype(float)
    assert len(scores) and scores.between(0, 100).all()
    pct = insights["audio_minutes_percentile"].dropna().astype(float)
    assert len(pct) and pct.between(0, 100).all()
    assert (insights.loc[insights["audio_minutes_percentile"].notna(), "peer_group_size"] >= 5).all()
    # anonymized: no insight text names another account
    names = {r[0] for r in db.execute("SELECT account_name FROM intermediate.int_account_names").fetchall()}
    texts = " ".join(insights[[c for c in insights.columns if c.endswith("_text")]].fillna("").to_numpy().ravel())
    assert not any(name in texts for name in names)
    assert insights["peak_text"].notna().any() and insights["anomaly_days_30d"].notna().any()

    again = run()
    pd.testing.assert_frame_equal(projections, again[0])
    pd.testing.assert_frame_equal(insights, again[1])
    assert np.isfinite(projections["projected_audio_minutes"].astype(float)).all()


def test_plan_cost_and_the_dbt_overage_mart_agree_with_the_catalogue(built, db):
    """fct_usage_overage_monthly (dbt, actual months) equals the overage computed here from the
    source catalogue (app.plans) by the rule of docs/metrics.md, and plan_cost (the ML's pricing of
    projections, on the dbt price list) gives the same figure on the same usage."""
    from orchestration.defs.ml_accounts import PLANS_SQL, PRICES_SQL, RATES_SQL

    plans = with_pricing(*(_table_sql(db, sql) for sql in (PLANS_SQL, PRICES_SQL, RATES_SQL)))
    by_plan = {p["plan_id"]: p for p in plans.to_dict("records")}
    catalogue = _table_sql(db, "SELECT * FROM app.plans").set_index("plan_id")
    annual = _table_sql(db, "SELECT plan_id, annual_price_per_month FROM marts.dim_plans").set_index("plan_id")
    assert (annual.annual_price_per_month == (catalogue.annual_price / 12).round(2).reindex(annual.index)).all()
    rows = _table_sql(db, """
        SELECT o.account_id, o.usage_month, o.plan_id, o.is_billable, o.overage_cost, u.is_trial,
               u.audio_minutes_processed, u.sessions_created, u.exports_generated, u.storage_used_mb
        FROM marts.fct_usage_overage_monthly o
        JOIN marts.fct_plan_utilization_monthly u USING (account_id, usage_month)""")
    assert len(rows) and (rows["overage_cost"].astype(float) > 0).any()
    usage_columns = {"audio_minutes": ("audio_minutes_processed", "limit_audio_minutes", "overage_audio_minute_price"),
                     "sessions": ("sessions_created", "limit_sessions", "overage_session_price"),
                     "exports": ("exports_generated", "limit_exports", "overage_export_price"),
                     "storage_mb": ("storage_used_mb", "limit_storage_mb", "overage_storage_mb_price")}
    for row in rows.to_dict("records"):
        plan = catalogue.loc[row["plan_id"]]
        owed = not row["is_trial"] and plan["tier"] > 0
        assert row["is_billable"] == owed
        expected = sum(max(float(row[usage]) - float(plan[limit]), 0) * float(plan[price])
                       for usage, limit, price in usage_columns.values()
                       if not pd.isna(row[usage]) and not pd.isna(plan[limit])) if owed else 0.0
        assert float(row["overage_cost"]) == pytest.approx(round(expected, 2), abs=0.005), row
        usage = {m: None if pd.isna(row[usage]) else float(row[usage]) for m, (usage, _, _) in usage_columns.items()}
        if owed:
            assert round(plan_cost(usage, by_plan[row["plan_id"]])[1], 2) == pytest.approx(float(row["overage_cost"]))


def _table_sql(db, sql: str) -> pd.DataFrame:
    cur = db.execute(sql)
    frame = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
    for column in frame.columns:  # numerics arrive as Decimal
        if frame[column].map(lambda v: hasattr(v, "as_tuple")).any():
            frame[column] = frame[column].astype(float)
    return frame
