"""Churn risk (issue 4, part 1): point-in-time features, time-split evaluation, the asset.

Pure-function tests run on constructed inputs where usage declines in the three weeks before a
subscription churns (the simulator's signal, made explicit); one module-scoped simulated
warehouse (150 accounts, 30 days, real Dagster runs of real dbt) checks that the asset writes
both tables, idempotently.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import psycopg
import pytest

from orchestration.ml.churn_features import FEATURES, ChurnInputs, build_features, churn_events
from orchestration.ml.churn_risk import calibration_table, evaluate, run_churn_model
from tests.warehouse_fixtures import SimulatedHistory, WarehouseBuilder

T0 = pd.Timestamp("2025-01-01", tz="UTC")
DAY = pd.Timedelta(days=1)
MIN_HOLDOUT_AUC = 0.70  # constructed data: ~2/3 of churners show a decline before their cutoff


def constructed_inputs(n: int = 500, days: int = 240, seed: int = 0, decline: bool = True) -> ChurnInputs:
    """Paying accounts with Poisson daily sessions; those that churn fade out to 15 % of their
    level over their last 3-6 weeks, as the simulator's do (orchestration/source/activity.py)."""
    rng = np.random.default_rng(seed)
    plans = pd.DataFrame({
        "plan_id": ["free", "basic", "pro"], "tier": [0, 1, 2], "is_free": [True, False, False],
        "monthly_price": [0.0, 15.0, 40.0], "annual_price_per_month": [0.0, 12.5, 33.33],
        "limit_audio_minutes": [60.0, 600.0, np.nan], "limit_sessions": [10.0, 100.0, 400.0],
        "limit_storage_mb": [500.0, 5000.0, np.nan], "limit_exports": [5.0, 50.0, np.nan]})
    ids = np.arange(1, n + 1)
    signup = T0 - pd.to_timedelta(rng.integers(30, 400, n), unit="D")
    plan = rng.choice(["basic", "pro"], n)
    churn_day = rng.exponential(30 / 0.06, n)  # ~6 % a month
    churn_at = T0 + pd.to_timedelta(np.floor(churn_day), unit="D") + pd.Timedelta(hours=13)
    churns = churn_day < days
    subs = pd.DataFrame({
        "subscription_id": ids, "account_id": ids, "plan_id": plan,
        "billing_period": np.where(rng.random(n) < 0.2, "annual", "monthly"), "is_trial": False,
        "started_at": signup, "ended_at": pd.Series(churn_at).where(churns),
        "end_reason": np.where(churns, "voluntary", None)})
    # the churned go to the free plan half the time (still churn)
    to_free = churns & (rng.random(n) < 0.5)
    free_rows = pd.DataFrame({
        "subscription_id": ids[to_free] + n, "account_id": ids[to_free], "plan_id": "free",
        "billing_period": "monthly", "is_trial": False, "started_at": churn_at[to_free],
        "ended_at": pd.NaT, "end_reason": None})
    subs = pd.concat([subs, free_rows], ignore_index=True)

    rate = rng.lognormal(0.5, 0.7, n)
    day_idx = np.arange(days)
    t = (churn_day[:, None] - day_idx[None, :])  # days until churn
    fade = rng.uniform(21, 42, n)[:, None] if decline else np.full((n, 1), 1e-9)
    factor = np.where(t < 0, 0.05, np.clip(t / fade, 0.15, 1.0))
    lam = rate[:, None] * factor * (0.8 + 0.4 * rng.random((n, days)))
    sessions = rng.poisson(lam)
    failed = rng.binomial(sessions, 0.05)
    usage = pd.DataFrame({
        "account_id": np.repeat(ids, days),
        "usage_date": np.tile((T0 + pd.to_timedelta(day_idx, unit="D")).to_numpy(), n),
        "sessions_created": sessions.ravel(), "audio_minutes_processed": sessions.ravel() * 8.0,
        "transcriptions_completed": (sessions - failed).ravel(), "transcriptions_failed": failed.ravel(),
        "exports_generated": rng.poisson(lam * 0.2).ravel(), "storage_used_mb": np.nan})
    invoices = pd.DataFrame({"account_id": ids, "issued_at": T0 + pd.to_timedelta(rng.integers(0, days, n), unit="D"),
                             "status": np.where(rng.random(n) < 0.05, "failed", "paid")})
    mrr = pd.DataFrame({"account_id": pd.Series(dtype="int64"), "mrr_month": pd.Series(dtype="datetime64[ns, UTC]"),
                        "movement": pd.Series(dtype=object)})
    return ChurnInputs(usage, subs, plans, pd.DataFrame({"account_id": ids, "signup_at": signup}),
                       invoices, mrr).normalised()


@pytest.fixture(scope="module")
def inputs() -> ChurnInputs:
    return constructed_inputs()


# -- point in time -----------------------------------------------------------------------------


def _future_rewritten(inputs: ChurnInputs, cutoff: pd.Timestamp, seed: int = 1) -> ChurnInputs:
    """Everything at or after the cutoff changed: usage, subscription ends, invoices, MRR months."""
    rng = np.random.default_rng(seed)
    usage = inputs.usage.copy()
    later = usage.usage_date >= cutoff
    usage.loc[later, "sessions_created"] = rng.poisson(50, later.sum())
    usage.loc[later, "transcriptions_failed"] = 7
    extra_days = pd.DataFrame({"account_id": usage.account_id.unique()[:50], "usage_date": cutoff + 400 * DAY,
                               "sessions_created": 999, "audio_minutes_processed": 1.0,
                               "transcriptions_completed": 0, "transcriptions_failed": 0,
                               "exports_generated": 0, "storage_used_mb": 1e6})
    subs = inputs.subscriptions.copy()
    open_then = subs.ended_at.isna() | (subs.ended_at >= cutoff)
    subs.loc[open_then, "ended_at"] = cutoff + pd.Timedelta(hours=1)  # every open row ends right after
    subs.loc[open_then, "end_reason"] = "downgrade"
    invoices = pd.concat([inputs.invoices, pd.DataFrame({
        "account_id": inputs.accounts.account_id, "issued_at": cutoff, "status": "failed"})])
    mrr = pd.DataFrame({"account_id": inputs.accounts.account_id, "mrr_month": cutoff.floor("D"),
                        "movement": "contraction"})
    return ChurnInputs(pd.concat([usage, extra_days], ignore_index=True), subs, inputs.plans,
                       inputs.accounts, invoices, mrr).normalised()


def test_features_ignore_data_at_or_after_the_cutoff(inputs):
    cutoff = T0 + 100 * DAY
    before = build_features(inputs, cutoff)
    after = build_features(_future_rewritten(inputs, cutoff), cutoff)
    assert len(before) > 100
    pd.testing.assert_frame_equal(before, after)
    # and the rewrite does change features at a later cutoff (the test would notice a leak)
    later = cutoff + 10 * DAY
    assert not build_features(inputs, later)[FEATURES].equals(
        build_features(_future_rewritten(inputs, cutoff), later)[FEATURES])


def test_moving_the_cutoff_changes_only_what_it_should(inputs):
    """Features at cutoff c from inputs truncated at c equal those from the full history."""
    cutoff = T0 + 80 * DAY
    truncated = ChurnInputs(
        inputs.usage[inputs.usage.usage_date < cutoff], inputs.subscriptions[inputs.subscriptions.started_at < cutoff]
        .assign(ended_at=lambda s: s.ended_at.where(s.ended_at < cutoff),
                end_reason=lambda s: s.end_reason.where(s.ended_at < cutoff)),
        inputs.plans, inputs.accounts, inputs.invoices[inputs.invoices.issued_at < cutoff], inputs.mrr)
    pd.testing.assert_frame_equal(build_features(inputs, cutoff), build_features(truncated, cutoff))


def test_churn_events_follow_the_metric_definition():
    plans = pd.DataFrame({"plan_id": ["free", "a", "b"], "tier": [0, 1, 2], "is_free": [True, False, False],
                          "monthly_price": [0, 1, 2], "annual_price_per_month": [0, 1, 2]})
    t = lambda d: T0 + d * DAY  # noqa: E731
    subs = pd.DataFrame([
        (1, 1, "a", False, t(0), t(10)), (2, 1, "b", False, t(10), pd.NaT),      # upgrade: no churn
        (3, 2, "a", False, t(0), t(5)), (4, 2, "free", False, t(5), pd.NaT),     # to free: churn
        (5, 3, "b", True, t(0), t(14)),                                          # trial end: not paid
        (6, 4, "a", False, t(0), t(20)),                                         # cancel: churn
    ], columns=["subscription_id", "account_id", "plan_id", "is_trial", "started_at", "ended_at"])
    events = churn_events(subs, plans)
    assert sorted(zip(events.account_id, events.churned_at, strict=True)) == [(2, t(5)), (4, t(20))]


# -- model -------------------------------------------------------------------------------------


def test_holdout_discrimination_and_calibration_on_a_churn_signal(inputs):
    horizon = T0 + 240 * DAY
    run = run_churn_model(inputs, horizon)
    ev = run.evaluation
    assert ev["reason"] is None, ev["reason"]
    # strictly time-ordered split
    assert ev["train_end"] < ev["validation_start"] and ev["validation_end"] + 30 * DAY <= horizon
    assert ev["n_validation_positive"] >= 10
    assert ev["roc_auc"] > MIN_HOLDOUT_AUC, ev
    assert ev["pr_auc"] > 2 * ev["validation_base_rate"]
    assert ev["brier_skill"] > 0
    cal = ev["calibration"]
    assert sum(b["count"] for b in cal) == ev["n_validation"] and len(cal) == 10
    assert cal[-1]["observed_rate"] > cal[0]["observed_rate"]
    assert "sigmoid" in ev["calibration_method"]
    # scores: paying accounts at the horizon, probabilities, bands and drivers
    s = run.scores
    assert s.churn_probability.between(0, 1).all() and set(s.risk_band) <= {"low", "medium", "high"}
    drivers = [json.loads(d) for d in s.top_drivers]
    assert all(len(d) <= 3 and all(x["contribution"] > 0 and x["feature"] in FEATURES for x in d) for d in drivers)
    riskiest = s.sort_values("churn_probability").iloc[-1]
    assert json.loads(riskiest.top_drivers)


def test_no_signal_gives_auc_near_chance():
    run = run_churn_model(constructed_inputs(decline=False, seed=3), T0 + 240 * DAY)
    assert run.evaluation["roc_auc"] < 0.65


def test_tiny_data_without_churn_stores_null_metrics_with_a_reason(inputs):
    never = inputs.subscriptions.assign(ended_at=pd.NaT, end_reason=None)
    never = never[never.plan_id != "free"]
    quiet = ChurnInputs(inputs.usage, never, inputs.plans, inputs.accounts, inputs.invoices, inputs.mrr)
    run = run_churn_model(quiet, T0 + 240 * DAY)
    ev = run.evaluation
    assert ev["roc_auc"] is None and ev["brier"] is None and "no churned" in ev["reason"]
    assert (run.scores.risk_band == "unscored").all() and run.scores.churn_probability.isna().all()
    short = run_churn_model(inputs, T0 + 20 * DAY)  # no labelled cutoff at all
    assert short.evaluation["roc_auc"] is None and short.evaluation["reason"]


def test_metrics_helpers():
    y = np.array([0, 0, 1, 1])
    m, reason = evaluate(y, np.array([0.1, 0.2, 0.7, 0.9]))
    assert reason is None and m["roc_auc"] == 1.0 and m["brier_skill"] > 0.5
    m, reason = evaluate(np.zeros(4, int), np.full(4, 0.1))
    assert m["roc_auc"] is None and reason and m["brier"] == pytest.approx(0.01)
    assert calibration_table(np.array([]), np.array([])) == []


# -- the asset on a simulated warehouse --------------------------------------------------------

END = datetime(2026, 3, 11, tzinfo=UTC)
DAYS = 30  # Dagster's per-hourly-partition overhead dominates the module's runtime
HISTORY = SimulatedHistory(accounts=150, days=DAYS, seed=11, end=END)


@pytest.fixture(scope="module")
def simulated(build_warehouse: WarehouseBuilder):
    build_warehouse.simulated(HISTORY)
    return build_warehouse.url


def _materialize(instance):
    import dagster as dg

    from orchestration.defs.ml_churn import ml_churn_assets
    from orchestration.defs.resources import WarehouseResource

    # 30 days leave few 30-day labels: a 14-day horizon gives the time split several cutoffs
    config = {"ops": {"churn_risk": {"config": {"horizon_days": 14, "cutoff_step_days": 2,
                                                "min_history_days": 7}}}}
    return dg.materialize(ml_churn_assets, resources={"warehouse": WarehouseResource()},
                          instance=instance, run_config=config)


def _tables(url: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    from orchestration.warehouse.frames import read_frame

    scores = read_frame(url, "SELECT account_id, cutoff, model_name, churn_probability, risk_band, "
                             "top_drivers::text FROM ml.churn_risk_scores ORDER BY cutoff, account_id")
    evals = read_frame(url, "SELECT * FROM ml.model_evaluations ORDER BY model_name, cutoff")
    return scores, evals.drop(columns="trained_at")


def test_asset_writes_both_tables_idempotently(simulated, dagster_instance):
    from orchestration.warehouse.frames import read_frame

    assert _materialize(dagster_instance).success
    scores, evals = _tables(simulated)
    assert len(evals) == 1 and len(scores) > 10
    ev = evals.iloc[0]
    assert ev.n_train > 0 and ev.n_validation > 0 and ev.cutoff == pd.Timestamp(END).floor("D")
    # the simulation's churn is rare over 30 days: metrics exist, or are NULL with a reason
    assert (ev.roc_auc is not None and 0 <= ev.roc_auc <= 1) or ev.reason
    assert isinstance(ev.calibration, list)
    paying = read_frame(simulated, """
        SELECT count(DISTINCT s.account_id) AS n FROM (
            SELECT DISTINCT ON (subscription_id) * FROM raw.subscriptions
            ORDER BY subscription_id, updated_at DESC) s
        JOIN marts.dim_plans p USING (plan_id)
        WHERE NOT s.is_trial AND p.tier > 0 AND s.started_at < %(c)s
          AND (s.ended_at IS NULL OR s.ended_at >= %(c)s)""", {"c": ev.cutoff})
    assert len(scores) == paying.n.iloc[0]

    assert _materialize(dagster_instance).success
    scores2, evals2 = _tables(simulated)
    pd.testing.assert_frame_equal(scores, scores2)
    pd.testing.assert_frame_equal(evals, evals2)


# -- the simulator's own churn signal, without Dagster -----------------------------------------


def source_inputs(url: str) -> tuple[ChurnInputs, pd.Timestamp]:
    """ChurnInputs straight from the simulated source (app.*), daily usage rolled up in SQL."""
    from orchestration.warehouse.frames import read_frame

    usage = read_frame(url, """
        WITH s AS (
            SELECT account_id, date_trunc('day', started_at) AS usage_date, count(*) AS sessions_created,
                   sum(audio_minutes)::float AS audio_minutes_processed,
                   count(*) FILTER (WHERE transcription_status = 'completed') AS transcriptions_completed,
                   count(*) FILTER (WHERE transcription_status = 'failed') AS transcriptions_failed
            FROM app.sessions WHERE account_id IS NOT NULL AND started_at IS NOT NULL GROUP BY 1, 2),
        e AS (
            SELECT account_id, date_trunc('day', occurred_at) AS usage_date,
                   sum(quantity) FILTER (WHERE event_type = 'export') AS exports_generated
            FROM app.usage_events WHERE account_id IS NOT NULL AND occurred_at IS NOT NULL GROUP BY 1, 2)
        SELECT account_id, usage_date, coalesce(s.sessions_created, 0) AS sessions_created,
               coalesce(s.audio_minutes_processed, 0) AS audio_minutes_processed,
               coalesce(s.transcriptions_completed, 0) AS transcriptions_completed,
               coalesce(s.transcriptions_failed, 0) AS transcriptions_failed,
               coalesce(e.exports_generated, 0) AS exports_generated, NULL::float AS storage_used_mb
        FROM s FULL JOIN e USING (account_id, usage_date)""")
    subs = read_frame(url, "SELECT subscription_id, account_id, plan_id, billing_period, is_trial, started_at, "
                           "ended_at, end_reason FROM app.subscriptions")
    plans = read_frame(url, "SELECT plan_id, tier, tier = 0 AS is_free, monthly_price::float AS monthly_price, "
                            "round(annual_price / 12, 2)::float AS annual_price_per_month, "
                            "limit_audio_minutes::float AS limit_audio_minutes, "
                            "limit_sessions::float AS limit_sessions, "
                            "limit_storage_mb::float AS limit_storage_mb, limit_exports::float AS limit_exports "
                            "FROM app.plans")
    accounts = read_frame(url, "SELECT account_id, signup_at FROM app.accounts")
    invoices = read_frame(url, "SELECT account_id, issued_at, status FROM app.invoices")
    mrr = pd.DataFrame(columns=["account_id", "mrr_month", "movement"])
    for c in ("sessions_created", "transcriptions_completed", "transcriptions_failed", "exports_generated"):
        usage[c] = usage[c].astype(float)
    horizon = pd.Timestamp(usage.usage_date.max()) + DAY
    return ChurnInputs(usage, subs, plans, accounts, invoices, mrr).normalised(), horizon


MIN_SIMULATOR_AUC = 0.65  # measured 0.75 (seed 7); 400 accounts were too few (AUC noise ±0.2)


def test_holdout_auc_on_the_simulators_churn_signal(warehouse_url):
    """1,500 simulated accounts over 150 days (source tables only, no Dagster): the model finds
    the simulator's pre-churn fade on later, unseen cutoffs and is calibrated there."""
    from orchestration.source.simulator import apply_source_schema, simulate_history

    with psycopg.connect(warehouse_url) as conn:  # runs last: the asset test is done with app.*
        apply_source_schema(conn)
        simulate_history(conn, accounts=1500, days=150, seed=7, end=END, late_rate=0, bad_rate=0)
        conn.commit()
    inputs, horizon = source_inputs(warehouse_url)
    ev = run_churn_model(inputs, horizon).evaluation
    assert ev["reason"] is None and ev["n_validation_positive"] >= 30, ev
    assert ev["roc_auc"] > MIN_SIMULATOR_AUC, ev
    assert ev["brier_skill"] > 0
    cal = pd.DataFrame(ev["calibration"])
    assert (cal.mean_predicted - cal.observed_rate).abs().max() < 0.1
    assert cal.observed_rate.iloc[-1] > 2 * ev["validation_base_rate"]
