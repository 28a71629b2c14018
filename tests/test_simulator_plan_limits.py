"""The simulated product keeps its plans' promises, checked from the source tables alone.

One clean history (no late or bad rows): 500 accounts over 90 days up to 2026-03-20, simulated
once for the module. Free accounts stop at their limits and say so with a limit_reached event;
paid accounts pay (usage - limit) x overage price on their invoices; the pre-history moves the
way the live window does, so the MRR bridge has expansion and contraction month after month.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg
import pytest

from tests.revenue_expectations import monthly_price
from tests.usage_expectations import read

END = datetime(2026, 3, 20, tzinfo=UTC)
DAYS = 90
START = END - timedelta(days=DAYS)
UNTIL = END - timedelta(days=1)

# Every month of a free row, clipped to the row and to the history (usage before it is not in
# the source) up to a day before its end (sessions still running then are not written yet):
# [lo, hi) with the month's own start, so a month that began before the history is known by
# its true start.
FREE_MONTHS = """
    WITH free_rows AS (
        SELECT s.account_id, s.subscription_id, s.started_at,
               least(s.ended_at, %(until)s) AS row_end
        FROM app.subscriptions s JOIN app.plans p USING (plan_id)
        WHERE p.tier = 0 AND NOT s.is_trial
    )
    SELECT f.account_id, f.subscription_id,
           f.started_at + k * interval '1 month' AS month_start,
           greatest(f.started_at + k * interval '1 month', %(start)s) AS lo,
           least(f.started_at + (k + 1) * interval '1 month', f.row_end) AS hi
    FROM free_rows f, generate_series(0, 40) AS k
    WHERE f.started_at + k * interval '1 month' < f.row_end
      AND f.started_at + (k + 1) * interval '1 month' > %(start)s
"""

FREE_MONTH_USAGE = f"""
    WITH months AS ({FREE_MONTHS}),
    recorded AS (
        SELECT m.subscription_id, m.month_start, count(*) AS sessions,
               sum(x.audio_minutes) AS audio_minutes
        FROM months m JOIN app.sessions x ON x.account_id = m.account_id
         AND x.started_at >= m.lo AND x.started_at < m.hi
        GROUP BY 1, 2
    ),
    events AS (
        SELECT m.subscription_id, m.month_start,
               count(*) FILTER (WHERE e.event_type = 'export') AS exports,
               count(*) FILTER (WHERE e.event_type = 'limit_reached') AS limit_events
        FROM months m JOIN app.usage_events e ON e.account_id = m.account_id
         AND e.occurred_at >= m.lo AND e.occurred_at < m.hi
        WHERE e.event_type IN ('export', 'limit_reached')
        GROUP BY 1, 2
    )
    SELECT m.*, coalesce(r.sessions, 0) AS sessions,
           coalesce(r.audio_minutes, 0) AS audio_minutes, coalesce(e.exports, 0) AS exports,
           coalesce(e.limit_events, 0) AS limit_events
    FROM months m
    LEFT JOIN recorded r USING (subscription_id, month_start)
    LEFT JOIN events e USING (subscription_id, month_start)
"""

# Each invoice instant T of an account, the paid row in force just before it, and the usage
# month that row finished at T (T is one of its monthly anniversaries); the expected overage is
# the usage above each limit times its price, storage read at the end of T's hour.
OVERAGE = """
    WITH billed AS (
        SELECT account_id, issued_at, sum(overage_fee) AS overage_fee,
               bool_and(subscription_fee = 0) AS overage_only
        FROM app.invoices GROUP BY 1, 2
    ),
    months AS (
        SELECT b.*, s.plan_id, s.billing_period,
               s.started_at + (k - 1) * interval '1 month' AS lo
        FROM billed b
        JOIN app.subscriptions s ON s.account_id = b.account_id AND NOT s.is_trial
         AND s.started_at < b.issued_at AND (s.ended_at IS NULL OR s.ended_at >= b.issued_at)
        JOIN app.plans p ON p.plan_id = s.plan_id AND p.tier > 0
        CROSS JOIN generate_series(1, 40) AS k
        WHERE s.started_at + k * interval '1 month' = b.issued_at
    ),
    recorded AS (
        SELECT m.account_id, m.issued_at, count(*) AS sessions, sum(x.audio_minutes) AS audio
        FROM months m JOIN app.sessions x ON x.account_id = m.account_id
         AND x.started_at >= m.lo AND x.started_at < m.issued_at
        GROUP BY 1, 2
    ),
    exported AS (
        SELECT m.account_id, m.issued_at, count(*) AS exports
        FROM months m JOIN app.usage_events e ON e.account_id = m.account_id
         AND e.occurred_at >= m.lo AND e.occurred_at < m.issued_at
        WHERE e.event_type = 'export'
        GROUP BY 1, 2
    ),
    used AS (
        SELECT m.*, p.limit_audio_minutes, p.limit_sessions, p.limit_exports, p.limit_storage_mb,
               p.overage_audio_minute_price, p.overage_session_price, p.overage_export_price,
               p.overage_storage_mb_price, coalesce(r.sessions, 0) AS sessions,
               coalesce(r.audio, 0) AS audio,
               coalesce(x.exports, 0) AS exports, s.storage_used_mb AS storage
        FROM months m JOIN app.plans p USING (plan_id)
        LEFT JOIN recorded r USING (account_id, issued_at)
        LEFT JOIN exported x USING (account_id, issued_at)
        LEFT JOIN app.storage_readings s ON s.account_id = m.account_id
         AND s.measured_at = date_trunc('hour', m.issued_at) + interval '1 hour'
        WHERE m.lo >= %(start)s
    )
    SELECT account_id, issued_at, plan_id, billing_period, overage_only, overage_fee, storage,
           round(coalesce(greatest(audio - limit_audio_minutes, 0), 0) * overage_audio_minute_price
               + coalesce(greatest(sessions - limit_sessions, 0), 0) * overage_session_price
               + coalesce(greatest(exports - limit_exports, 0), 0) * overage_export_price
               + coalesce(greatest(storage - limit_storage_mb, 0), 0) * overage_storage_mb_price,
               2) AS expected
    FROM used
"""


@pytest.fixture(scope="module")
def source(warehouse_url: str) -> None:
    from orchestration.source.simulator import simulate_history

    with psycopg.connect(warehouse_url) as conn:
        simulate_history(conn, accounts=500, days=DAYS, seed=21, end=END, late_rate=0.0,
                         bad_rate=0.0)
        conn.commit()


@pytest.fixture()
def utc_db(db: psycopg.Connection) -> psycopg.Connection:
    """Month arithmetic on timestamptz follows the session's time zone: the simulator's is UTC."""
    db.execute("SET TimeZone = 'UTC'")
    return db


def free_limits(db: psycopg.Connection) -> tuple:
    return db.execute("SELECT limit_sessions, limit_audio_minutes, limit_exports, limit_storage_mb "
                      "FROM app.plans WHERE tier = 0").fetchone()


def test_free_accounts_never_exceed_their_limits(source, utc_db):
    sessions, audio, exports, storage = free_limits(utc_db)
    months = read(utc_db, FREE_MONTH_USAGE, {"start": START, "until": UNTIL})
    assert len(months) > 500
    assert (months.sessions <= sessions).all(), months[months.sessions > sessions].head()
    assert (months.audio_minutes <= audio).all(), months[months.audio_minutes > audio].head()
    assert (months.exports <= exports).all(), months[months.exports > exports].head()
    # the limits bind: plenty of free months end at one of them
    at_limit = ((months.sessions == sessions) | (months.audio_minutes == audio)
                | (months.exports == exports))
    assert at_limit.sum() > 50
    # storage of accounts that only ever had the free plan stays within its limit
    most = utc_db.execute("""
        SELECT max(r.storage_used_mb) FROM app.storage_readings r
        WHERE NOT EXISTS (SELECT 1 FROM app.subscriptions s JOIN app.plans p USING (plan_id)
                          WHERE s.account_id = r.account_id AND (p.tier > 0 OR s.is_trial))
    """).fetchone()[0]
    assert 0 < most <= storage


def test_limit_reached_events_mark_the_months_that_hit_a_limit(source, utc_db):
    sessions, audio, exports, _ = free_limits(utc_db)
    months = read(utc_db, FREE_MONTH_USAGE, {"start": START, "until": UNTIL})
    # a month that began before the history also counts usage the source never saw
    months = months[months.month_start >= START]
    hit = ((months.sessions == sessions) | (months.audio_minutes == audio)
           | (months.exports == exports))
    assert (months[hit].limit_events >= 1).all(), months[hit & (months.limit_events == 0)].head()
    # an event without a metered limit reached can only be the storage limit (the product
    # counts the day's recordings against it; a deletion later that day may lower the reading)
    storage_only = months[~hit & (months.limit_events > 0)]
    full = read(utc_db, """
        SELECT account_id, max(storage_used_mb) AS most FROM app.storage_readings
        GROUP BY account_id""").set_index("account_id").most
    limit_storage = free_limits(utc_db)[3]
    assert (full.loc[storage_only.account_id] >= 0.9 * limit_storage).all(), storage_only.head()
    # no more than one event per meter and month
    assert (months.limit_events <= 4).all()
    # every event belongs to a free month
    outside = utc_db.execute(f"""
        WITH months AS ({FREE_MONTHS})
        SELECT count(*) FROM app.usage_events e
        WHERE e.event_type = 'limit_reached' AND e.occurred_at < %(until)s AND NOT EXISTS (
            SELECT 1 FROM months m WHERE m.account_id = e.account_id
            AND e.occurred_at >= m.lo AND e.occurred_at < m.hi)
    """, {"start": START, "until": UNTIL}).fetchone()[0]
    assert outside == 0


def test_paid_overage_is_billed_per_unit_past_the_limit(source, utc_db):
    billed = read(utc_db, OVERAGE, {"start": START})
    assert len(billed) > 100
    assert billed.storage.notna().all()
    difference = (billed.overage_fee - billed.expected).abs()
    assert (difference <= 0.01).all(), billed[difference > 0.01].head(10)
    charged = billed[billed.overage_fee > 0]
    assert len(charged) > 20
    # annual rows pay their monthly overage on overage-only invoices between renewals
    assert (charged.overage_only & (charged.billing_period == "annual")).any()
    # and the paid invoices' overage is what reaches the revenue marts: total = fee + overage
    assert utc_db.execute("SELECT count(*) FROM app.invoices "
                          "WHERE total <> subscription_fee + overage_fee").fetchone()[0] == 0


def mrr_by_account_month(subs: pd.DataFrame, plans: pd.DataFrame) -> pd.DataFrame:
    """MRR per account (rows) and month end (columns), read at each month's end instant, for
    every complete month from the first paid row to END."""
    subs = subs.assign(price=monthly_price(subs, plans).astype(float))
    paid = subs[subs.price > 0]
    first = paid.started_at.min().tz_convert("UTC").tz_localize(None)
    ends = pd.date_range(first.to_period("M").end_time.ceil("D"), END.replace(tzinfo=None),
                         freq="MS", tz="UTC")
    running = paid.merge(pd.DataFrame({"month_end": ends}), how="cross")
    running = running[(running.started_at <= running.month_end)
                      & (running.ended_at.isna() | (running.ended_at > running.month_end))]
    mrr = running.pivot_table(index="account_id", columns="month_end", values="price",
                              aggfunc="sum", fill_value=0.0)
    return mrr.reindex(columns=ends, fill_value=0.0)


def movements(mrr: pd.DataFrame) -> pd.DataFrame:
    """Per month end: paying accounts at the start, and how many expanded or contracted."""
    previous = mrr.shift(1, axis=1, fill_value=0.0)
    both = (mrr > 0) & (previous > 0)
    came_back = (previous.cumsum(axis=1) > 0) & (previous == 0) & (mrr > 0)
    return pd.DataFrame({"starting": (previous > 0).sum(),
                         "expansion": (both & (mrr > previous + 0.005)).sum(),
                         "contraction": (both & (mrr < previous - 0.005)).sum(),
                         "reactivation": came_back.sum()})


def test_the_history_window_has_expansion_and_contraction_every_month(source, utc_db):
    mrr = mrr_by_account_month(read(utc_db, "SELECT * FROM app.subscriptions"),
                               read(utc_db, "SELECT * FROM app.plans"))
    window = movements(mrr).loc[lambda m: m.index > pd.Timestamp(START)]
    assert len(window) == 3  # the ends of December, January and February
    assert (window.expansion > 0).all() and (window.contraction > 0).all(), window


def test_the_prehistory_moves_like_the_live_window():
    """The demo's size (2,000 accounts, 90 days): the year before the history, simulated
    without activity rows, upgrades, downgrades and reactivates like the window does."""
    from orchestration.source.copy_writer import NULL_INT
    from orchestration.source.simulator import initial_world

    _, rows = initial_world(21, 2000, DAYS, int(START.timestamp()))
    tables = rows.tables()
    # each change re-emits a subscription row: the last version of each is its state
    subs = pd.DataFrame(tables["app.subscriptions"]).drop_duplicates("subscription_id",
                                                                     keep="last")
    for column in ("started_at", "ended_at"):
        seconds = subs[column].where(subs[column] != NULL_INT)
        subs[column] = pd.to_datetime(seconds, unit="s", utc=True)
    plans = pd.DataFrame(tables["app.plans"])
    for column in ("monthly_price", "annual_price"):
        plans[column] = plans[column] / 100
    moves = movements(mrr_by_account_month(subs, plans))
    before = moves[moves.index <= pd.Timestamp(START)]
    # the product's first months have a handful of payers (contraction is a downgrade between
    # paid plans, a few percent of them a month); from 80 payers on, every month moves
    established = before[before.starting >= 80]
    assert len(established) >= 5, before
    assert (established.expansion > 0).all() and (established.contraction > 0).all(), before
    assert before.reactivation.sum() > 0, before
