"""A synthetic daily usage panel for timing per-account forecasts at a fixed size (issue 14).

The benchmark database's size depends on the scale; the per-account forecasting goal is stated for
2,000 accounts x 4 metrics x 90 days, so the figure also times a panel of exactly that size. Accounts
have a weekly profile, a per-account level and trend, Poisson noise; a tenth are younger than the
window and a tenth never use one metric (constant zero series), as in the real product.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from orchestration.ml.platform_series import USAGE_METRICS

WEEKDAY = np.array([1.0, 1.05, 1.08, 1.06, 0.98, 0.45, 0.35])


def usage_panel(accounts: int = 2000, days: int = 90, seed: int = 0,
                end: str = "2026-03-31") -> tuple[pd.DataFrame, dict[int, str]]:
    """(daily frame with account_id, usage_date and the usage metrics; account -> plan)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(end=end, periods=days, freq="D")
    weekday = WEEKDAY[dates.day_of_week]
    t = np.arange(days) / days
    level = rng.lognormal(2.5, 1.0, size=(accounts, 1))
    growth = rng.uniform(-0.4, 0.8, size=(accounts, 1))
    lam = level * weekday * (1 + growth * t)
    scales = {"sessions_created": 1.0, "audio_minutes_processed": 12.0, "exports_generated": 0.25,
              "api_calls": 6.0}
    start = np.where(rng.random(accounts) < 0.1, rng.integers(0, days - 3, size=accounts), 0)
    alive = np.arange(days)[None, :] >= start[:, None]
    frame = pd.DataFrame({"account_id": np.repeat(np.arange(1, accounts + 1), days),
                          "usage_date": np.tile(dates.date, accounts)})
    for metric in USAGE_METRICS:
        values = rng.poisson(lam * scales[metric]).astype(float)
        if metric == "exports_generated":
            values[rng.random(accounts) < 0.1] = 0.0
        frame[metric] = values.ravel()
    frame = frame[alive.ravel()].reset_index(drop=True)
    plans = {a: ("starter", "pro", "business")[a % 3] for a in range(1, accounts + 1)}
    return frame, plans
