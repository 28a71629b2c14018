"""The platform-level series the forecasts and anomaly checks run on, read from the marts.

Each series is indexed by its period start with an explicit frequency, complete periods only:
the forecast functions infer the future timestamps from it.
"""

from __future__ import annotations

import pandas as pd

from orchestration.warehouse.frames import read_frame

USAGE_METRICS = ("sessions_created", "audio_minutes_processed", "exports_generated", "api_calls")


def _series(frame: pd.DataFrame, column: str, freq: str) -> pd.Series:
    if frame.empty:
        return pd.Series(dtype=float, index=pd.DatetimeIndex([], freq=freq))
    index = pd.DatetimeIndex(pd.to_datetime(frame["period"]))
    values = pd.Series(frame[column].astype(float).to_numpy(), index=index).sort_index()
    return values.asfreq(freq, fill_value=0.0)


def daily_signups(url: str) -> pd.Series:
    frame = read_frame(url, "SELECT signup_date AS period, sum(signups) AS signups "
                            "FROM marts.fct_signups_daily WHERE signup_date < current_date GROUP BY 1")
    return _series(frame, "signups", "D")


def monthly_mrr(url: str) -> pd.Series:
    frame = read_frame(url, "SELECT mrr_month AS period, ending_mrr FROM marts.fct_mrr_summary_monthly")
    return _series(frame, "ending_mrr", "MS")


def monthly_revenue(url: str) -> pd.Series:
    frame = read_frame(url, "SELECT revenue_month AS period, sum(total_revenue) AS revenue "
                            "FROM marts.fct_revenue_monthly GROUP BY 1")
    return _series(frame, "revenue", "MS")


def daily_usage(url: str) -> dict[str, pd.Series]:
    columns = ", ".join(f"sum({m}) AS {m}" for m in USAGE_METRICS)
    frame = read_frame(url, f"SELECT usage_date AS period, {columns} FROM marts.fct_usage_daily GROUP BY 1")
    return {metric: _series(frame, metric, "D") for metric in USAGE_METRICS}
