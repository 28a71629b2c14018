"""Account insights (issue 4, part 6): short findings a monthly report can print per account.

Pure functions on DataFrames; the Dagster asset (orchestration/defs/ml_accounts.py) writes one row
per account to ``ml.account_insights`` (columns, not one row per insight: every account gets every
check, and a NULL text means "nothing to say"). Definitions (also in docs/metrics.md):

* **Report month**: the last complete month - the as-of day's month when the as-of day is its last
  day, else the month before.
* **Peak day**: the report month's day with the most audio minutes (earliest on ties); NULL when
  the account processed none.
* **Downgrade**: on a paid, non-trial plan (at the report month's end), maximum utilization below
  `LOW_UTILIZATION_PCT` and a cheaper plan (price + overage of the month's actual usage, see
  orchestration.ml.limits.recommend_plan) exists -> that plan and the monthly saving.
* **Upgrade soon**: a limit of the current plan is reached (or projected to be) this month, or
  audio minutes grow fast: this month's projection >= (1 + `GROWTH_THRESHOLD`) x the report month's
  audio minutes, with at least `MIN_GROWTH_BASE` minutes in a report month the account was
  observed for in full.
* **Anomalies**: `detect_anomalies` on the account's daily audio minutes (up to `ANOMALY_HISTORY_DAYS`
  ending at the as-of day); count and latest date of flagged days among the last
  `ANOMALY_WINDOW_DAYS`. NULL with less than `MIN_ANOMALY_HISTORY` days of history, or when the
  account was active (audio minutes > 0) on fewer than `MIN_ACTIVE_SHARE` of them: in a sparse
  series every active day looks unusual.
* **Peer percentile**: among accounts on the same plan at the report month's end (trials
  included), the share of the *other* accounts with fewer audio minutes, ties counting half:
  ``100 * (lower + 0.5 * equal) / (n - 1)``. NULL for groups under `MIN_PEER_GROUP` accounts, so
  a percentile never reveals a handful of named peers; only the group size is stored.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from orchestration.ml.anomalies import detect_anomalies
from orchestration.ml.limits import METRICS, month_end, recommend_plan

LOW_UTILIZATION_PCT = 30.0
GROWTH_THRESHOLD = 0.5
MIN_GROWTH_BASE = 60.0
ANOMALY_WINDOW_DAYS = 30
ANOMALY_HISTORY_DAYS = 90
MIN_ANOMALY_HISTORY = 14
MIN_ACTIVE_SHARE = 0.75
MIN_PEER_GROUP = 5

INSIGHT_COLUMNS = [
    "account_id", "as_of_date", "report_month", "plan_id",
    "peak_usage_date", "peak_audio_minutes", "peak_text",
    "max_utilization_pct", "downgrade_plan_id", "downgrade_saving", "downgrade_text",
    "audio_growth_pct", "upgrade_soon", "upgrade_text",
    "anomaly_days_30d", "latest_anomaly_date", "anomaly_text",
    "peer_group_size", "audio_minutes_percentile", "peer_text",
]


def report_month(as_of: date) -> date:
    if as_of == month_end(as_of):
        return as_of.replace(day=1)
    return (as_of.replace(day=1) - timedelta(days=1)).replace(day=1)


def _day(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


def _month(d: date) -> str:
    return f"{d:%B %Y}"


def _num(x: float) -> str:
    return f"{x:,.0f}"


def peer_percentiles(values: pd.Series, groups: pd.Series,
                     min_group: int = MIN_PEER_GROUP) -> pd.DataFrame:
    """Percentile of each value among the other members of its group (see module docstring).

    Returns a frame indexed like `values` with ``percentile`` (NaN for small groups or a missing
    group/value) and ``group_size``.
    """
    frame = pd.DataFrame({"v": values.astype(float), "g": groups})
    out = pd.DataFrame({"percentile": np.nan, "group_size": pd.NA}, index=values.index)
    for _, members in frame.dropna().groupby("g"):
        n = len(members)
        out.loc[members.index, "group_size"] = n
        if n < max(min_group, 2):
            continue
        v = members["v"].to_numpy()
        lower = (v[None, :] < v[:, None]).sum(axis=1)
        equal = (v[None, :] == v[:, None]).sum(axis=1) - 1  # others only
        out.loc[members.index, "percentile"] = 100 * (lower + 0.5 * equal) / (n - 1)
    return out


def peak_day(days: pd.DataFrame) -> tuple[date | None, float | None]:
    """(date, audio minutes) of the busiest day in `days` (usage_date, audio_minutes_processed)."""
    minutes = days["audio_minutes_processed"].to_numpy(dtype=float)
    if days.empty or not (minutes > 0).any():
        return None, None
    most = np.nanmax(minutes)
    busiest = [pd.Timestamp(d).date() for d, m in zip(days["usage_date"], minutes, strict=True) if m == most]
    return min(busiest), float(most)  # the earliest of tied days


def anomaly_summary(series: pd.Series, as_of: date, window: int = ANOMALY_WINDOW_DAYS,
                    history: int = ANOMALY_HISTORY_DAYS,
                    min_history: int = MIN_ANOMALY_HISTORY,
                    min_active_share: float = MIN_ACTIVE_SHARE) -> tuple[int | None, date | None]:
    """(flagged days in the last `window` days, latest flagged day) of a daily series by date."""
    s = series.astype(float).copy()
    s.index = pd.DatetimeIndex(pd.to_datetime(s.index))
    s = s.sort_index()
    end = pd.Timestamp(as_of)
    s = s[(s.index > end - pd.Timedelta(days=history)) & (s.index <= end)]
    if len(s) < min_history or (s > 0).mean() < min_active_share:
        return None, None
    flags = detect_anomalies(s)["is_anomaly"]
    recent = flags[flags.index > end - pd.Timedelta(days=window)]
    flagged = recent[recent]
    return int(len(flagged)), (flagged.index[-1].date() if len(flagged) else None)


def _usage(row: dict) -> dict[str, float | None]:
    return {m: (None if pd.isna(row.get(col)) else float(row.get(col)))
            for m, (col, _) in METRICS.items()}


def _minutes_by_account(daily: pd.DataFrame) -> dict[int, pd.Series]:
    """Each account's daily audio minutes by date, split from one sort (a groupby of frames took ~10 s)."""
    daily = daily.sort_values(["account_id", "usage_date"], kind="stable")
    dates = pd.DatetimeIndex(pd.to_datetime(daily["usage_date"]))
    minutes = daily["audio_minutes_processed"].to_numpy()
    accounts, firsts = np.unique(daily["account_id"].to_numpy(), return_index=True)
    stops = [*firsts[1:], len(daily)]
    return {account: pd.Series(minutes[first:stop], index=dates[first:stop], name="audio_minutes_processed")
            for account, first, stop in zip(accounts, firsts, stops, strict=True)}


def build_insights(daily: pd.DataFrame, utilization: pd.DataFrame, plans: pd.DataFrame,
                   projections: pd.DataFrame) -> pd.DataFrame:
    """One row per account of `projections` (see the module docstring).

    `daily`: fct_usage_daily (account_id, usage_date, audio_minutes_processed, ...).
    `utilization`: fct_plan_utilization_monthly (account_id, usage_month, plan_id, is_trial,
    max_utilization_pct and the four usage columns). `plans`: dim_plans `with_pricing` (the dbt
    price list; orchestration.ml.limits).
    `projections`: the output of orchestration.ml.limits.project_limits.
    """
    if projections.empty:
        return pd.DataFrame(columns=INSIGHT_COLUMNS)
    as_of = pd.Timestamp(projections["as_of_date"].iloc[0]).date()
    month = report_month(as_of)
    plans = plans.copy()
    numeric = [c for c in plans.columns if c.startswith(("limit_", "overage_")) or "price" in c]
    plans[numeric] = plans[numeric].astype(float)
    by_plan = {p["plan_id"]: p for p in plans.to_dict("records")}
    daily = daily.copy()
    daily["usage_date"] = pd.to_datetime(daily["usage_date"]).dt.date
    daily = daily[daily["usage_date"] <= as_of]
    in_month = daily[(daily["usage_date"] >= month) & (daily["usage_date"] <= month_end(month))]
    days_in_month = (month_end(month) - month).days + 1
    util = utilization.copy()
    util["usage_month"] = pd.to_datetime(util["usage_month"]).dt.date
    util = util[util["usage_month"] == month].set_index("account_id")
    with_plan = util[util["plan_id"].notna()]
    peers = peer_percentiles(with_plan["audio_minutes_processed"], with_plan["plan_id"])
    month_days = {a: g for a, g in in_month.groupby("account_id")}
    series = _minutes_by_account(daily)

    rows = []
    for proj in projections.sort_values("account_id").to_dict("records"):
        account_id = int(proj["account_id"])
        row: dict = {c: None for c in INSIGHT_COLUMNS}
        row.update(account_id=account_id, as_of_date=as_of, report_month=month)
        u = util.loc[account_id].to_dict() if account_id in util.index else None
        plan_id = u["plan_id"] if u is not None and not pd.isna(u["plan_id"]) else None
        plan = by_plan.get(plan_id)
        row["plan_id"] = plan_id

        days = month_days.get(account_id)
        if days is not None:
            peak, minutes = peak_day(days)
            if peak is not None:
                row.update(peak_usage_date=peak, peak_audio_minutes=round(minutes, 2),
                           peak_text=f"Busiest day in {_month(month)}: {peak:%A} {_day(peak)}, "
                                     f"with {_num(minutes)} audio minutes.")

        if u is not None and not pd.isna(u.get("max_utilization_pct")):
            row["max_utilization_pct"] = float(u["max_utilization_pct"])
        if (plan is not None and plan["tier"] > 0 and not bool(u.get("is_trial"))
                and row["max_utilization_pct"] is not None
                and row["max_utilization_pct"] < LOW_UTILIZATION_PCT):
            billing = proj.get("billing_period") or "monthly"
            usage = _usage(u)
            best, best_cost = recommend_plan(usage, plans, billing)
            current = recommend_plan(usage, plans[plans["plan_id"] == plan_id], billing)[1]
            if best is not None and best != plan_id and current is not None and current - best_cost > 0.005:
                saving = round(current - best_cost, 2)
                row.update(downgrade_plan_id=best, downgrade_saving=saving,
                           downgrade_text=f"Used at most {row['max_utilization_pct']:.0f}% of the "
                                          f"{plan['plan_name']} plan's limits in {_month(month)}: the "
                                          f"{by_plan[best]['plan_name']} plan would have covered it "
                                          f"for {saving:,.2f} less.")

        projected = proj.get("projected_audio_minutes")
        full_month = days is not None and len(days) == days_in_month
        base = float(days["audio_minutes_processed"].astype(float).sum()) if full_month else None
        if base is not None and base >= MIN_GROWTH_BASE and projected is not None and not pd.isna(projected):
            row["audio_growth_pct"] = round(100 * (float(projected) / base - 1), 1)
        reached = [(m, proj.get(f"{m}_reach_date")) for m in METRICS
                   if proj.get(f"{m}_reach_date") is not None and not pd.isna(proj.get(f"{m}_reach_date"))]
        growing = row["audio_growth_pct"] is not None and row["audio_growth_pct"] >= 100 * GROWTH_THRESHOLD
        row["upgrade_soon"] = bool(reached) or growing
        current_plan = by_plan.get(proj.get("plan_id"))
        if reached:
            metric, when = min(reached, key=lambda x: pd.Timestamp(x[1]))
            when = pd.Timestamp(when).date()
            verb = "reached" if when <= as_of else "is projected to reach"
            name = current_plan["plan_name"] if current_plan is not None else "plan"
            text = (f"{metric.replace('_mb', '').replace('_', ' ').capitalize()} {verb} the {name} "
                    f"limit on {_day(when)}.")
            rec = by_plan.get(proj.get("recommended_plan_id"))
            if rec is not None and current_plan is not None and rec["tier"] > current_plan["tier"]:
                text += f" The {rec['plan_name']} plan fits this month's projected usage best."
            else:
                text += " Consider upgrading soon."
            row["upgrade_text"] = text
        elif growing:
            row["upgrade_text"] = (f"Audio minutes are growing fast: {_num(float(projected))} projected "
                                   f"this month, {row['audio_growth_pct']:+.0f}% on {_month(month)}. "
                                   f"Check the plan before its limits are reached.")

        if account_id in series:
            count, latest = anomaly_summary(series[account_id], as_of)
            row.update(anomaly_days_30d=count, latest_anomaly_date=latest)
            if count:
                row["anomaly_text"] = (f"{count} unusual day{'s' if count > 1 else ''} of audio minutes "
                                       f"in the last {ANOMALY_WINDOW_DAYS} days, the latest on {_day(latest)}.")
            elif count == 0:
                row["anomaly_text"] = f"No unusual days in the last {ANOMALY_WINDOW_DAYS} days."

        if account_id in peers.index:
            row["peer_group_size"] = int(peers.loc[account_id, "group_size"])
            pct = peers.loc[account_id, "percentile"]
            if not pd.isna(pct):
                row["audio_minutes_percentile"] = round(float(pct), 1)
                row["peer_text"] = (f"In {_month(month)} this account processed more audio minutes than "
                                    f"{float(pct):.0f}% of accounts on the {plan['plan_name']} plan.")
        rows.append(row)
    out = pd.DataFrame(rows, columns=INSIGHT_COLUMNS)
    out["anomaly_days_30d"] = out["anomaly_days_30d"].astype("Int64")
    out["peer_group_size"] = out["peer_group_size"].astype("Int64")
    return out
