"""Per-account BG/NBD inputs from daily activity, and the fitted probability of being alive.

An account's purchase events in BG/NBD terms are its active days (any session, export or API
call). frequency = active days after the first, recency = days from the first to the last active
day, T = days from the first active day to the cutoff.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from orchestration.ml.bgnbd import BGNBDParams, fit_bgnbd, probability_alive


def activity_summary(active_days: pd.DataFrame, cutoff: date) -> pd.DataFrame:
    """`active_days` has account_id and usage_date (one row per active day, before the cutoff)."""
    days = active_days[pd.to_datetime(active_days.usage_date) < pd.Timestamp(cutoff)]
    grouped = days.groupby("account_id").usage_date.agg(["min", "max", "count"])
    first = pd.to_datetime(grouped["min"])
    return pd.DataFrame({
        "account_id": grouped.index.astype("int64"),
        "cutoff_date": cutoff,
        "frequency": (grouped["count"] - 1).astype("int64").to_numpy(),
        "recency_days": (pd.to_datetime(grouped["max"]) - first).dt.days.to_numpy(),
        "age_days": (pd.Timestamp(cutoff) - first).dt.days.to_numpy(),
    })


def score_alive(summary: pd.DataFrame) -> tuple[pd.DataFrame, BGNBDParams]:
    params = fit_bgnbd(summary.frequency, summary.recency_days, summary.age_days)
    scored = summary.assign(probability_alive=probability_alive(
        params, summary.frequency, summary.recency_days, summary.age_days))
    return scored, params
