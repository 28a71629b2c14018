"""An independent pandas computation of the customer marts from the source tables (app.*).

Written from docs/metrics.md ("Customers, churn and funnel"), not from the dbt SQL: subscription
rows are half-open intervals [started_at, ended_at); a paid row is neither a trial nor on a free
plan; quarantined sessions and events are left out with the usage expectations' helpers.

Two instants bound what a computation sees, as they bound what dbt saw when it built the marts:
- `horizon`: the end of the observed data (the marts' data horizon); a month is complete when it
  ended by then;
- `activity_end`: activity (sessions, usage events) counts on days before it; the daily layer
  the marts read activity from had built the days before it.
The tests pass the same instant for both; the soak passes the instant up to which activity is final.
Keys are `datetime.date` where the mart has a date, so frames merge with what psycopg reads.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg

from tests.usage_expectations import hour_end_storage, read, valid_events, valid_sessions

ACTIVITY_CHURN_DAYS = 30  # the defaults in dbt_project.yml
ACTIVATION_WINDOW_DAYS = 7


# -- the source, read independently --------------------------------------------------------


def _ts(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for c in columns:
        frame[c] = pd.to_datetime(frame[c], utc=True)
    return frame


def accounts(conn: psycopg.Connection) -> pd.DataFrame:
    return _ts(read(conn, "SELECT account_id, user_type, acquisition_channel, country, signup_at "
                          "FROM app.accounts"), "signup_at")


def subscriptions(conn: psycopg.Connection) -> pd.DataFrame:
    """Subscription rows with their plan, `paid` and the monthly `price` they add while in force."""
    subs = _ts(read(conn, "SELECT s.*, p.tier, p.monthly_price, p.annual_price FROM app.subscriptions s "
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


def months(conn: psycopg.Connection, horizon: datetime) -> list[pd.Timestamp]:
    """Month starts (UTC) from the first signup's month to the month holding the horizon's last instant."""
    first = accounts(conn).signup_at.min().tz_convert(None).to_period("M").start_time
    last = pd.Timestamp(horizon).tz_convert(None) - pd.Timedelta(microseconds=1)
    return list(pd.date_range(first, last, freq="MS", tz="UTC"))


def month_end(m: pd.Timestamp) -> pd.Timestamp:
    return m + pd.offsets.MonthBegin(1)


def active_dates(conn: psycopg.Connection, activity_end: datetime) -> dict[int, set[date]]:
    """Per account, the UTC days before `activity_end` with a valid session or usage event."""
    end = pd.Timestamp(activity_end)
    s, e = valid_sessions(conn), valid_events(conn)
    s, e = s[s.started_at < end], e[e.occurred_at < end]
    days = pd.concat([
        pd.DataFrame({"account_id": s.account_id, "day": s.started_at.dt.date}),
        pd.DataFrame({"account_id": e.account_id, "day": e.occurred_at.dt.date}),
    ])
    return {a: set(g.day) for a, g in days.groupby("account_id")}


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


# -- the marts -------------------------------------------------------------------------------


def expected_signups_daily(conn: psycopg.Connection) -> pd.DataFrame:
    """signup_date, user_type, acquisition_channel, country, signups, is_peak (the month's busiest day)."""
    a = accounts(conn)
    a["signup_date"] = a.signup_at.dt.date
    out = a.groupby(["signup_date", "user_type", "acquisition_channel", "country"]).size().rename(
        "signups").reset_index()
    per_day = a.groupby("signup_date").size()
    month_peak = per_day.groupby([f"{d:%Y-%m}" for d in per_day.index]).transform("max")
    peaks = set(per_day[per_day == month_peak].index)
    out["is_peak"] = out.signup_date.isin(peaks)
    return out


def expected_funnel_daily(conn: psycopg.Connection, activity_end: datetime) -> pd.DataFrame:
    """signup_date, user_type: signups, activated (first session within the activation window),
    trial, paid, trial-and-paid accounts and paid_conversion_rate."""
    a, subs, s = accounts(conn), subscriptions(conn), valid_sessions(conn)
    first = s[s.started_at < pd.Timestamp(activity_end)].groupby("account_id").started_at.min()
    a["activated"] = a.account_id.map(first) < a.signup_at + pd.Timedelta(days=ACTIVATION_WINDOW_DAYS)
    a["trial"] = a.account_id.isin(subs[subs.is_trial].account_id)
    a["paid"] = a.account_id.isin(subs[subs.paid].account_id)
    a["trial_and_paid"] = a.trial & a.paid
    a["signup_date"] = a.signup_at.dt.date
    out = a.groupby(["signup_date", "user_type"]).agg(
        signups=("account_id", "size"), activated_accounts=("activated", "sum"),
        trial_accounts=("trial", "sum"), paid_accounts=("paid", "sum"),
        trial_and_paid_accounts=("trial_and_paid", "sum"),
    ).astype("int64").reset_index()
    out["paid_conversion_rate"] = (out.paid_accounts / out.signups).round(4)
    return out


def expected_subscription_churn_monthly(conn: psycopg.Connection, horizon: datetime) -> pd.DataFrame:
    """month_start: paying accounts at its start, accounts churned in it (an account once: its last
    churn of the month decides voluntary or not), those of them paying at the start, and the rate."""
    subs = subscriptions(conn)
    events = churn_events(subs)
    rows = []
    for start in months(conn, horizon):
        end = month_end(start)
        paying = set(paid_in_force(subs, start).account_id)
        in_month = events[(events.churned_at >= start) & (events.churned_at < end)]
        last = in_month.sort_values("churned_at").groupby("account_id").last()
        from_start = last[last.index.isin(paying)]
        rows.append({
            "month_start": start.date(),
            "is_complete_month": end <= pd.Timestamp(horizon),
            "paying_accounts_at_month_start": len(paying),
            "churned_accounts": len(last),
            "voluntary_churned_accounts": int((~last.involuntary).sum()),
            "involuntary_churned_accounts": int(last.involuntary.sum()),
            "churned_accounts_paying_at_start": len(from_start),
            "voluntary_churned_paying_at_start": int((~from_start.involuntary).sum()),
            "involuntary_churned_paying_at_start": int(from_start.involuntary.sum()),
            "subscription_churn_rate": _rate(len(from_start), len(paying)),
        })
    return pd.DataFrame(rows)


def expected_activity_churn_monthly(conn: psycopg.Connection, horizon: datetime, activity_end: datetime
                                    ) -> pd.DataFrame:
    """month_start: accounts active in the N days before it, those of them completing N inactive days
    on a day of the month (days before `activity_end` only), and the rate."""
    n = ACTIVITY_CHURN_DAYS
    active = active_dates(conn, activity_end)
    last_day = (pd.Timestamp(activity_end) - pd.Timedelta(microseconds=1)).date()
    rows = []
    for month in months(conn, horizon):
        start, end = month.date(), month_end(month).date()
        before = [start - timedelta(days=k) for k in range(1, n + 1)]
        cohort = [a for a, days in active.items() if any(d in days for d in before)]
        churned = 0
        for a in cohort:
            days = active[a]
            t = start
            while t < end and t <= last_day:
                # day t completes an n-day streak: t-n was active, t-n+1 .. t were not
                if (t - timedelta(days=n)) in days and not any((t - timedelta(days=k)) in days for k in range(n)):
                    churned += 1
                    break
                t += timedelta(days=1)
        rows.append({"month_start": start, "activity_churn_days": n,
                     "active_accounts_before_month_start": len(cohort),
                     "activity_churned_accounts": churned, "activity_churn_rate": _rate(churned, len(cohort))})
    return pd.DataFrame(rows)


def expected_plan_utilization_monthly(conn: psycopg.Connection, keys: pd.DataFrame) -> pd.DataFrame:
    """For each (account_id, usage_month) of `keys`: the plan in force at the month's end (the latest
    started), usage over the month as a percentage of each plan limit, their maximum and its change
    from the account's previous month in `keys`."""
    subs = subscriptions(conn)
    plans = read(conn, "SELECT * FROM app.plans").set_index("plan_id")
    s, e, storage = valid_sessions(conn), valid_events(conn), hour_end_storage(conn)
    out = keys[["account_id", "usage_month"]].sort_values(["account_id", "usage_month"]).reset_index(drop=True)

    def month_of(times: pd.Series) -> pd.Series:
        return times.dt.tz_convert(None).dt.to_period("M").dt.start_time.dt.date

    s["usage_month"] = month_of(s.started_at)
    exports = e[e.event_type == "export"].assign(usage_month=lambda x: month_of(x.occurred_at))
    storage["usage_month"] = month_of(storage.hour_start)
    usage = pd.DataFrame({
        "audio_minutes": s.groupby(["account_id", "usage_month"]).audio_minutes.sum(),
        "sessions": s.groupby(["account_id", "usage_month"]).size(),
        "exports": exports.groupby(["account_id", "usage_month"]).quantity.sum(),
    })
    storage_mb = storage.sort_values("hour_start").groupby(["account_id", "usage_month"]).storage_used_mb.last()
    out = out.join(usage, on=["account_id", "usage_month"]).join(storage_mb.rename("storage_mb"),
                                                                 on=["account_id", "usage_month"])
    out[["audio_minutes", "sessions", "exports"]] = out[["audio_minutes", "sessions", "exports"]].fillna(0)

    plan_ids = []
    for row in out.itertuples():
        end = month_end(pd.Timestamp(row.usage_month, tz="UTC"))
        mine = subs[(subs.account_id == row.account_id) & (subs.started_at <= end)
                    & (subs.ended_at.isna() | (subs.ended_at > end))]
        mine = mine.sort_values(["started_at", "subscription_id"], ascending=False)
        plan_ids.append(mine.plan_id.iloc[0] if len(mine) else None)
    out["plan_id"] = plan_ids
    pct_columns = []
    for dim, column in [("audio_minutes", "audio_minutes"), ("sessions", "sessions"),
                        ("exports", "exports"), ("storage_mb", "storage")]:
        limits = pd.to_numeric(out.plan_id.map(plans[f"limit_{dim}"])).astype(float).replace(0, np.nan)
        pct = (100 * out[dim].astype(float) / limits).round(2)
        out[f"{column}_utilization_pct"] = pct
        pct_columns.append(f"{column}_utilization_pct")
    out["max_utilization_pct"] = out[pct_columns].max(axis=1, skipna=True)
    out["max_utilization_pct_change_mom"] = out.max_utilization_pct - out.groupby(
        "account_id").max_utilization_pct.shift()
    return out[["account_id", "usage_month", "plan_id", *pct_columns, "max_utilization_pct",
                "max_utilization_pct_change_mom"]]


def expected_cohort_retention_monthly(conn: psycopg.Connection, horizon: datetime, activity_end: datetime
                                      ) -> pd.DataFrame:
    """(cohort_month, period_month) for every complete month from the signup month on: the cohort's
    accounts, those paying at the month's end and their MRR, those active in it, logo retention and
    the cohort's MRR against its month 0 (cohort_mrr_retention_rate)."""
    a, subs, active = accounts(conn), subscriptions(conn), active_dates(conn, activity_end)
    a["cohort"] = a.signup_at.dt.tz_convert(None).dt.to_period("M").dt.start_time.dt.tz_localize("UTC")
    complete = [m for m in months(conn, horizon) if month_end(m) <= pd.Timestamp(horizon)]
    rows = []
    for cohort_month in sorted(a.cohort.unique()):
        cohort = a[a.cohort == cohort_month]
        month0_paying = month0_mrr = None
        for k, period in enumerate([m for m in complete if m >= cohort_month]):
            end = month_end(period)
            paying = paid_in_force(subs, end)
            paying = paying[paying.account_id.isin(cohort.account_id)]
            n_paying = paying.account_id.nunique()
            month0_paying = n_paying if k == 0 else month0_paying
            mrr = round(paying.price.sum(), 2)
            month0_mrr = mrr if k == 0 else month0_mrr
            act = sum(1 for x in cohort.account_id if any(period.date() <= d < end.date() for d in active.get(x, ())))
            rows.append({"cohort_month": pd.Timestamp(cohort_month).date(), "period_month": period.date(),
                         "months_since_signup": k, "cohort_accounts": len(cohort), "paying_accounts": n_paying,
                         "active_accounts": act, "mrr": mrr,
                         "logo_retention_rate": _rate(n_paying, month0_paying),
                         "cohort_mrr_retention_rate": _rate(mrr, month0_mrr)})
    return pd.DataFrame(rows, columns=["cohort_month", "period_month", "months_since_signup", "cohort_accounts",
                                       "paying_accounts", "active_accounts", "mrr", "logo_retention_rate",
                                       "cohort_mrr_retention_rate"])


def expected_customer_ltv(conn: psycopg.Connection, horizon: datetime) -> pd.DataFrame:
    """(plan_id, cohort_month) over the complete months: paying account-months (paid row in force at
    the month's start), those churned in the month, ARPA and LTV = ARPA x months / churned."""
    a, subs = accounts(conn), subscriptions(conn)
    events = churn_events(subs)
    cohort = a.set_index("account_id").signup_at.dt.tz_convert(None).dt.to_period("M").dt.start_time
    obs = []
    for m in months(conn, horizon):
        end = month_end(m)
        if end > pd.Timestamp(horizon):
            continue
        for r in paid_in_force(subs, m).itertuples():
            churned = ((events.account_id == r.account_id) & (events.churned_at >= m)
                       & (events.churned_at < end)).any()
            obs.append((r.plan_id, cohort[r.account_id].date(), r.account_id, r.price, churned))
    o = pd.DataFrame(obs, columns=["plan_id", "cohort_month", "account_id", "price", "churned"])
    g = o.groupby(["plan_id", "cohort_month"]).agg(
        paying_account_months=("account_id", "size"), churned_account_months=("churned", "sum"),
        arpa=("price", "mean")).reset_index()
    g["churned_account_months"] = g.churned_account_months.astype("int64")
    g["ltv"] = [round(r.arpa * r.paying_account_months / r.churned_account_months, 2)
                if r.churned_account_months else None for r in g.itertuples()]
    g["arpa"] = g.arpa.round(2)
    return g
