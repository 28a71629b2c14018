"""Limits and plans (issue 4, part 4): month-end projections, limit-reach dates, plan advice.

Pure functions on DataFrames; the Dagster asset (orchestration/defs/ml_accounts.py) reads the marts,
calls `project_limits` and writes ``ml.limit_projections``. Definitions (also in docs/metrics.md,
"Limits, plans and insights"):

* **As-of day**: the newest ``usage_date`` in the daily usage (the last complete day built). The
  current month is the month holding it; it may be incomplete.
* **Projection of a counted metric** (audio minutes, sessions, exports): a weekday-weighted run-rate.
  ``w[k]`` is the weekday profile of the metric (mean usage on weekday k over the last 4 weeks, all
  accounts pooled, divided by the mean over all 7 weekdays; all 1 when there is no usage). With the
  account's month-to-date total ``U`` over its observed days ``D`` of the month (days it existed),
  ``rate = U / sum(w[d] for d in D)`` and ``projected = U + rate * sum(w[d] for d after the as-of
  day to the month's end)``. With flat weights that is ``U * days_in_month / days_observed``.
* **Projection of storage**: the month-end level, ``last + slope * days_to_month_end`` (floored at
  0), where ``last`` is the newest reading of the month and ``slope`` the change per day since the
  previous month's last reading (the first reading of the month when there is none).
* **Limit-reach date**: the first day cumulative usage (storage: the reading) is >= the limit and
  > 0. Already reached: that past day. Otherwise the first future day of the month the projection
  path reaches it (cumulative: ``rate * w[d]`` added per day; storage: the linear path); NULL when
  it is not reached this month or the plan has no limit.
* **Plan cost** of a projected month on a plan: the rule is dbt's, read as data, never restated
  here (docs/metrics.md, "Plan cost and overage"): ``int_plan_prices.price_per_month`` for the
  billing period + for each row of ``int_plan_overage_rates``, the usage above ``included_units``
  x ``overage_unit_price`` (storage = month-end level). A limit that ``caps_usage`` (the free plan)
  cannot carry usage above it: the plan is not eligible. ``fct_usage_overage_monthly`` applies the
  same rates to actual months; tests/test_limits_insights.py checks both agree.
* **Recommended plan**: the eligible plan with the lowest cost (to the cent); ties go to the lower
  price, then the lower tier. **Saving** = current plan's cost - recommended plan's cost, when > 0.
  Trials are costed at their plan's price (what converting will cost).
* **Efficiency score**: ``100 * min(1, max over the current plan's limits of projected / limit)``,
  one decimal: the share of the plan's allowance used on its most-used limited dimension. 100 =
  the account needs its allowance; low = it pays for headroom. NULL without a plan or limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

# metric (= int_plan_overage_rates.dimension) -> (daily usage column, dim_plans limit column)
METRICS: dict[str, tuple[str, str]] = {
    "audio_minutes": ("audio_minutes_processed", "limit_audio_minutes"),
    "sessions": ("sessions_created", "limit_sessions"),
    "exports": ("exports_generated", "limit_exports"),
    "storage_mb": ("storage_used_mb", "limit_storage_mb"),
}
PRICING = "pricing"  # the plans frame's column holding each plan's PlanPricing
COUNTED = ("audio_minutes", "sessions", "exports")
PROFILE_WEEKS = 4
EPS = 1e-9


def month_end(day: date) -> date:
    first_next = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return first_next - timedelta(days=1)


def _as_date(value) -> date:
    return pd.Timestamp(value).date()


def _days(start: date, end: date) -> list[date]:
    """The days start..end inclusive (empty when end < start)."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def weekday_profile(daily: pd.DataFrame, as_of: date, weeks: int = PROFILE_WEEKS) -> pd.DataFrame:
    """Weekday weights (index 0 = Monday .. 6, one column per counted metric, mean 1).

    Pooled over all accounts on the `weeks` * 7 days ending at `as_of`; a metric without usage, or
    a weekday without a day in the window, gives flat weights for that metric.
    """
    start = as_of - timedelta(days=7 * weeks - 1)
    dates = pd.to_datetime(daily["usage_date"]).dt.date
    window = daily[(dates >= start) & (dates <= as_of)]
    out = pd.DataFrame(1.0, index=range(7), columns=list(COUNTED))
    if window.empty:
        return out
    per_day = window.groupby(pd.to_datetime(window["usage_date"]).dt.date)[
        [METRICS[m][0] for m in COUNTED]].sum()
    weekday = pd.Series([d.weekday() for d in per_day.index], index=per_day.index)
    for metric in COUNTED:
        by_weekday = per_day[METRICS[metric][0]].astype(float).groupby(weekday.values).mean()
        if len(by_weekday) == 7 and by_weekday.mean() > 0:
            out[metric] = (by_weekday / by_weekday.mean()).sort_index().to_numpy()
    return out


@dataclass(frozen=True)
class Projection:
    month_to_date: float | None
    projected: float | None
    reach_date: date | None


def project_counted(usage: pd.Series, as_of: date, weights: np.ndarray | list[float],
                    limit: float | None = None) -> Projection:
    """Project a counted metric to the month's end. `usage`: daily values indexed by date, the
    account's observed days of the current month (through `as_of`)."""
    usage = usage.copy()
    usage.index = [_as_date(d) for d in usage.index]
    usage = usage.sort_index().astype(float).fillna(0.0)
    return _project_counted(list(usage.index), usage.to_numpy(), as_of, np.asarray(weights, dtype=float), limit)


def _project_counted(days: list[date], values: np.ndarray, as_of: date, w: np.ndarray,
                     limit: float | None) -> Projection:
    """`project_counted` on the account's sorted days and their values (no NaN): what `project_limits` calls
    for every account, without building a Series per account (that made the asset take a minute)."""
    if not days:
        return Projection(None, None, None)
    total = float(values.sum())
    observed_weight = float(w[[d.weekday() for d in days]].sum())
    remaining = _days(as_of + timedelta(days=1), month_end(as_of))
    rate = total / observed_weight if observed_weight > 0 else 0.0
    projected = total + rate * float(sum(w[d.weekday()] for d in remaining))
    reach = None
    if limit is not None and not pd.isna(limit):
        cumulative = np.cumsum(values)
        hit = np.flatnonzero((cumulative >= float(limit) - EPS) & (cumulative > 0))
        if len(hit):
            reach = days[hit[0]]
        elif rate > 0:
            running = total
            for d in remaining:
                running += rate * w[d.weekday()]
                if running >= float(limit) - EPS:
                    reach = d
                    break
    return Projection(total, projected, reach)


def project_storage(readings: pd.Series, as_of: date, limit: float | None = None,
                    previous: tuple[date, float] | None = None) -> Projection:
    """Month-end storage level. `readings`: the month's day-end readings by date (NaN = none);
    `previous`: (day, reading) of the previous month's last reading, if any."""
    readings = readings.copy()
    readings.index = [_as_date(d) for d in readings.index]
    readings = readings.astype(float).dropna().sort_index()
    return _project_storage(list(readings.index), readings.to_numpy(), as_of, limit, previous)


def _project_storage(days: list[date], readings: np.ndarray, as_of: date, limit: float | None,
                     previous: tuple[date, float] | None) -> Projection:
    """`project_storage` on the sorted days with a reading and those readings (no NaN)."""
    if not days:
        if previous is None:
            return Projection(None, None, None)
        level = float(previous[1])
        return Projection(level, level, None)
    last_day, last = days[-1], float(readings[-1])
    ref_day, ref = (previous[0], float(previous[1])) if previous is not None else (days[0], float(readings[0]))
    span = (last_day - _as_date(ref_day)).days
    slope = (last - ref) / span if span > 0 else 0.0
    end = month_end(as_of)
    projected = max(0.0, last + slope * (end - last_day).days)
    reach = None
    if limit is not None and not pd.isna(limit):
        limit = float(limit)
        hit = np.flatnonzero((readings >= limit - EPS) & (readings > 0))
        if len(hit):
            reach = days[hit[0]]
        elif slope > 0:
            days_needed = math.ceil((limit - last) / slope - EPS)
            candidate = last_day + timedelta(days=max(days_needed, 1))
            reach = candidate if candidate <= end else None
    return Projection(last, projected, reach)


@dataclass(frozen=True)
class OverageRate:
    """One row of dbt's int_plan_overage_rates."""

    dimension: str
    included_units: float | None  # None = unlimited
    unit_price: float
    caps_usage: bool


@dataclass(frozen=True)
class PlanPricing:
    """A plan's cost terms as dbt states them: price per month by billing period (int_plan_prices)
    and its overage rates (int_plan_overage_rates)."""

    price_per_month: dict[str, float]
    rates: tuple[OverageRate, ...]


def with_pricing(plans: pd.DataFrame, prices: pd.DataFrame, rates: pd.DataFrame) -> pd.DataFrame:
    """`plans` (dim_plans: names, tiers, limits) with a PRICING column from the dbt tables `prices`
    (plan_id, billing_period, price_per_month) and `rates` (plan_id, dimension, included_units,
    overage_unit_price, caps_usage). A plan missing from either is an error naming it: it could
    not be costed."""
    price_of = {plan_id: dict(zip(group["billing_period"], group["price_per_month"].astype(float), strict=True))
                for plan_id, group in prices.groupby("plan_id")}
    rates_of = {plan_id: tuple(OverageRate(r.dimension, None if pd.isna(r.included_units) else float(r.included_units),
                                           float(r.overage_unit_price), bool(r.caps_usage))
                               for r in group.itertuples())
                for plan_id, group in rates.groupby("plan_id")}
    unpriced = sorted(set(plans["plan_id"]) - (set(price_of) & set(rates_of)))
    if unpriced:
        raise ValueError(f"plans without a price or overage rates in int_plan_prices/int_plan_overage_rates: "
                         f"{unpriced}")
    return plans.assign(**{PRICING: [PlanPricing(price_of[p], rates_of[p]) for p in plans["plan_id"]]})


def plan_cost(usage: dict[str, float | None], plan: pd.Series | dict,
              billing_period: str | None = "monthly") -> tuple[float, float, bool]:
    """(price, overage, eligible) of a month with `usage` (metric -> value) on `plan` (a row of a
    `with_pricing` frame): the dbt rule applied to usage dbt never sees (a projection)."""
    pricing: PlanPricing = plan[PRICING]
    overage, eligible = 0.0, True
    for rate in pricing.rates:
        value = usage.get(rate.dimension)
        if value is None or pd.isna(value) or rate.included_units is None:
            continue
        excess = float(value) - rate.included_units
        if excess > EPS:
            if rate.caps_usage:
                eligible = False
            overage += excess * rate.unit_price
    # an account without a subscription row reaches here with a missing period (None, or NaN from a frame)
    period = "monthly" if billing_period is None or pd.isna(billing_period) else billing_period
    return pricing.price_per_month[period], overage, eligible


def recommend_plan(usage: dict[str, float | None], plans: pd.DataFrame | list[dict],
                   billing_period: str | None = "monthly") -> tuple[str | None, float | None]:
    """(plan_id, cost) of the cheapest eligible plan for `usage`; see the module docstring. `plans`: dim_plans,
    or its records (a caller asking for every account converts them once)."""
    best: tuple | None = None
    for plan in plans.to_dict("records") if isinstance(plans, pd.DataFrame) else plans:
        price, overage, eligible = plan_cost(usage, plan, billing_period)
        if not eligible:
            continue
        key = (round(price + overage, 2), round(price, 2), int(plan["tier"]), str(plan["plan_id"]))
        if best is None or key < best:
            best = key
    return (best[3], best[0]) if best else (None, None)


def efficiency_score(usage: dict[str, float | None], plan: pd.Series | dict | None) -> float | None:
    if plan is None:
        return None
    shares = []
    for metric, (_, limit_col) in METRICS.items():
        value, limit = usage.get(metric), plan[limit_col]
        if value is None or pd.isna(value) or limit is None or pd.isna(limit) or float(limit) <= 0:
            continue
        shares.append(float(value) / float(limit))
    return round(100 * min(1.0, max(shares)), 1) if shares else None


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _summary(plan_name: str | None, recommended_name: str | None, current_cost: float | None,
             recommended_cost: float | None, overage: float | None, saving: float | None,
             capped: bool = False) -> str | None:
    if recommended_name is None:
        return None
    if plan_name is None:
        return (f"No active subscription: the {recommended_name} plan fits this month's projected usage "
                f"best, at {_money(recommended_cost)}.")
    if saving is not None:
        return (f"The {recommended_name} plan would cost {_money(saving)} less this month than "
                f"{plan_name} ({_money(recommended_cost)} instead of {_money(current_cost)}, "
                f"overage included).")
    if capped:
        return (f"Projected usage exceeds limits of the {plan_name} plan that cap usage: the "
                f"{recommended_name} plan fits it best, at {_money(recommended_cost)}.")
    if overage:
        return (f"{plan_name} stays the cheapest plan for this month's projected usage, "
                f"with {_money(overage)} overage.")
    return f"{plan_name} is the cheapest plan for this month's projected usage."


def project_limits(daily: pd.DataFrame, accounts: pd.DataFrame, plans: pd.DataFrame,
                   as_of: date | None = None) -> pd.DataFrame:
    """One row per account of `daily` for the current month (see the module docstring).

    `daily`: account_id, usage_date and the METRICS usage columns (fct_usage_daily).
    `accounts`: account_id, plan_id (NULL without an active subscription), billing_period, is_trial.
    `plans`: dim_plans (plan_id, plan_name, tier, limits) `with_pricing`.
    """
    columns = PROJECTION_COLUMNS
    if daily.empty:
        return pd.DataFrame(columns=columns)
    daily = daily.copy()
    daily["usage_date"] = pd.to_datetime(daily["usage_date"]).dt.date
    as_of = as_of or max(daily["usage_date"])
    start, end = as_of.replace(day=1), month_end(as_of)
    daily = daily[daily["usage_date"] <= as_of]
    profile = weekday_profile(daily, as_of)
    plans = plans.copy()
    limits = [limit_col for _, limit_col in METRICS.values()]
    plans[limits] = plans[limits].astype(float)
    plan_records = plans.to_dict("records")
    by_plan = {p["plan_id"]: p for p in plan_records}
    acct = accounts.set_index("account_id").to_dict("index")
    month = daily[daily["usage_date"] >= start].sort_values(["account_id", "usage_date"], kind="stable")
    before = daily[(daily["usage_date"] < start) & daily["storage_used_mb"].notna()]
    last_before = before.sort_values("usage_date").groupby("account_id").tail(1).set_index("account_id")
    previous_reading = dict(zip(last_before.index, zip(last_before["usage_date"],
                                                       last_before["storage_used_mb"].astype(float), strict=True),
                                strict=True))
    weights = {metric: profile[metric].to_numpy(dtype=float) for metric in COUNTED}
    # One pass over plain arrays: each account's rows are a slice of the sorted month.
    month_days = list(month["usage_date"])
    values_of = {metric: month[METRICS[metric][0]].to_numpy(dtype=float) for metric in METRICS}
    account_ids, firsts = np.unique(month["account_id"].to_numpy(), return_index=True)
    bounds = list(zip(firsts, [*firsts[1:], len(month)], strict=True))
    rows = []
    for account_id, (first, stop) in zip(account_ids, bounds, strict=True):
        days = month_days[first:stop]
        info = acct.get(account_id, {})
        plan_id = info.get("plan_id")
        plan_id = None if plan_id is None or pd.isna(plan_id) else plan_id
        plan = by_plan.get(plan_id)
        billing = info.get("billing_period") or "monthly"
        billing = "monthly" if pd.isna(billing) else billing
        row = {"account_id": int(account_id), "as_of_date": as_of, "usage_month": start,
               "days_observed": len(days), "days_in_month": (end - start).days + 1,
               "plan_id": plan_id, "billing_period": billing if plan_id else None,
               "is_trial": bool(info.get("is_trial")) if plan_id and not pd.isna(info.get("is_trial"))
               else (False if plan_id else None)}
        usage: dict[str, float | None] = {}
        for metric in COUNTED:
            limit_col = METRICS[metric][1]
            limit = plan[limit_col] if plan is not None else None
            values = np.nan_to_num(values_of[metric][first:stop], nan=0.0)
            p = _project_counted(days, values, as_of, weights[metric], limit)
            usage[metric] = p.projected
            row.update({f"mtd_{metric}": p.month_to_date, f"projected_{metric}": p.projected,
                        f"limit_{metric}": None if limit is None or pd.isna(limit) else limit,
                        f"{metric}_reach_date": p.reach_date})
        limit = plan["limit_storage_mb"] if plan is not None else None
        readings = values_of["storage_mb"][first:stop]
        read = ~np.isnan(readings)
        p = _project_storage([d for d, r in zip(days, read, strict=True) if r], readings[read], as_of, limit,
                             previous_reading.get(account_id))
        usage["storage_mb"] = p.projected
        row.update({"mtd_storage_mb": p.month_to_date, "projected_storage_mb": p.projected,
                    "limit_storage_mb": None if limit is None or pd.isna(limit) else limit,
                    "storage_mb_reach_date": p.reach_date})
        recommended, recommended_cost = recommend_plan(usage, plan_records, billing)
        current_cost = overage = saving = None
        capped = False
        if plan is not None:
            price, overage, eligible = plan_cost(usage, plan, billing)
            capped = not eligible
            overage = round(overage, 2)
            current_cost = round(price + overage, 2)
            if recommended_cost is not None and current_cost - recommended_cost > 0.005:
                saving = round(current_cost - recommended_cost, 2)
        row.update({
            "projected_overage_cost": overage, "projected_cost": current_cost,
            "recommended_plan_id": recommended, "recommended_plan_cost": recommended_cost,
            "cost_saving": saving, "efficiency_score": efficiency_score(usage, plan),
            "summary": _summary(plan["plan_name"] if plan is not None else None,
                                by_plan[recommended]["plan_name"] if recommended else None,
                                current_cost, recommended_cost, overage, saving, capped),
        })
        rows.append(row)
    out = pd.DataFrame(rows, columns=columns)
    for metric in METRICS:
        for prefix in ("mtd_", "projected_"):
            out[prefix + metric] = out[prefix + metric].astype(float).round(2)
    return out


PROJECTION_COLUMNS = [
    "account_id", "as_of_date", "usage_month", "days_observed", "days_in_month", "plan_id",
    "billing_period", "is_trial",
    *[f"{c}_{m}" if c != "reach" else f"{m}_reach_date" for m in METRICS
      for c in ("mtd", "projected", "limit", "reach")],
    "projected_overage_cost", "projected_cost", "recommended_plan_id", "recommended_plan_cost",
    "cost_saving", "efficiency_score", "summary",
]
