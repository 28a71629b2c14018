"""An independent pandas computation of the MRR and revenue marts from the source tables (app.*).

Written from the definitions in docs/metrics.md ("Revenue and MRR"), not from the dbt SQL, with
the default policy vars: trials and free plans count 0, past-due periods count, any return to
MRR > 0 after having paid is a reactivation. MRR of a month is read at its end instant (the
first instant of the next month): a period counts when [started_at, ended_at) contains it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pandas as pd
import psycopg

from tests.usage_expectations import read

CENT = Decimal("0.01")


def _known_account(conn: psycopg.Connection, frame: pd.DataFrame) -> pd.Series:
    known = set(read(conn, "SELECT account_id FROM app.accounts").account_id)
    return frame.account_id.isin(known)


def monthly_price(subscriptions: pd.DataFrame, plans: pd.DataFrame) -> pd.Series:
    """What each subscription row adds to MRR while it runs, as exact Decimals."""
    by_plan = plans.set_index("plan_id")
    prices = []
    for row in subscriptions.itertuples():
        plan = by_plan.loc[row.plan_id]
        if row.is_trial or plan.tier == 0:
            prices.append(Decimal("0"))
        elif row.billing_period == "annual":
            prices.append((Decimal(plan.annual_price) / 12).quantize(CENT))
        else:
            prices.append(Decimal(plan.monthly_price))
    return pd.Series(prices, index=subscriptions.index, dtype=object)


def month_starts(first: pd.Timestamp, horizon: datetime) -> list[pd.Timestamp]:
    """Month starts from `first`'s month while the month has ended by `horizon`."""
    months, month = [], first.tz_convert("UTC").tz_localize(None).to_period("M")
    while (month + 1).start_time.tz_localize("UTC") <= pd.Timestamp(horizon):
        months.append(month.start_time)
        month += 1
    return months


def expected_mrr_monthly(conn: psycopg.Connection, horizon: datetime) -> pd.DataFrame:
    """account_id, mrr_month, mrr, previous_mrr, mrr_change, movement (Decimals for money) and
    plan_id: the running paid plan (the dearest, should two overlap), or on a churn row the
    previous month's plan."""
    subs = read(conn, "SELECT * FROM app.subscriptions")
    subs = subs[_known_account(conn, subs)]
    subs = subs[subs.ended_at.isna() | (subs.ended_at >= subs.started_at)].copy()
    plans = read(conn, "SELECT * FROM app.plans")
    subs["price"] = monthly_price(subs, plans)
    paid = subs[subs.price > 0]
    months = month_starts(pd.Timestamp(paid.started_at.min()), horizon)

    rows = []
    for account_id, periods in paid.groupby("account_id"):
        history: list[Decimal] = []
        plan = None
        for month in months:
            end = (month.to_period("M") + 1).start_time.tz_localize("UTC")
            running = periods[(periods.started_at <= end)
                              & (periods.ended_at.isna() | (periods.ended_at > end))]
            mrr = sum(running.price, Decimal("0"))
            previous = history[-1] if history else Decimal("0")
            if len(running):
                plan = running.sort_values(["price", "started_at"], ascending=False).plan_id.iloc[0]
            paid_before = any(m > 0 for m in history)
            history.append(mrr)
            if mrr == 0 and previous == 0:
                continue  # before the first payment, or after the churn row
            if previous == 0:
                movement = "reactivation" if paid_before else "new"
            elif mrr == 0:
                movement = "churn"
            else:
                movement = ("expansion" if mrr > previous
                            else "contraction" if mrr < previous else "unchanged")
            rows.append({"account_id": int(account_id), "mrr_month": month.date(), "mrr": mrr,
                         "previous_mrr": previous, "mrr_change": mrr - previous,
                         "movement": movement, "plan_id": plan})
    return pd.DataFrame(rows)


def expected_revenue_monthly(conn: psycopg.Connection, start: datetime,
                             end: datetime) -> pd.DataFrame:
    """Invoice totals per issue month and plan for the valid invoices issued in [start, end)."""
    inv = read(conn, "SELECT * FROM app.invoices")
    inv = inv[(inv.issued_at >= start) & (inv.issued_at < end) & _known_account(conn, inv)
              & (inv.subscription_fee >= 0) & (inv.overage_fee >= 0)
              & (inv.total == inv.subscription_fee + inv.overage_fee)]
    inv = inv.drop_duplicates("invoice_id")
    plan_of = read(conn, "SELECT subscription_id, plan_id FROM app.subscriptions")
    inv = inv.merge(plan_of, on="subscription_id", how="left")
    inv["plan_id"] = inv.plan_id.fillna("unknown")
    issued = inv.issued_at.dt.tz_convert("UTC").dt.tz_localize(None)
    inv["revenue_month"] = issued.dt.to_period("M").dt.start_time.dt.date
    inv["collected"] = inv.total.where(inv.status == "paid", Decimal("0"))
    return inv.groupby(["revenue_month", "plan_id"]).agg(
        invoices=("invoice_id", "count"),
        subscription_revenue=("subscription_fee", "sum"),
        overage_revenue=("overage_fee", "sum"),
        total_revenue=("total", "sum"),
        collected_revenue=("collected", "sum"),
    ).reset_index()
