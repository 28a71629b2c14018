"""Billing arithmetic: calendar-month anniversaries, plan fit and overage fees."""

from __future__ import annotations

import numpy as np

from orchestration.source.plans import (
    LIMIT_AUDIO,
    LIMIT_EXPORTS,
    LIMIT_SESSIONS,
    LIMIT_STORAGE,
    PRICE_AUDIO,
    PRICE_EXPORT,
    PRICE_SESSION,
    PRICE_STORAGE,
    TIER_COUNT,
)
from orchestration.source.world import DAY


def add_months(ts: np.ndarray, months: np.ndarray | int) -> np.ndarray:
    """Calendar-month anniversaries: Jan 31 + 1 month = Feb 28/29 (same time of day)."""
    ts = np.asarray(ts, np.int64)
    month = ts.astype("datetime64[s]").astype("datetime64[M]")
    month_start = month.astype("datetime64[s]").astype(np.int64)
    into = ts - month_start
    target = month + np.asarray(months, np.int64).astype("timedelta64[M]")
    target_start = target.astype("datetime64[s]").astype(np.int64)
    length = (target + 1).astype("datetime64[s]").astype(np.int64) - target_start
    into = np.where(into >= length, length - DAY + into % DAY, into)
    return target_start + into


def fit_plan(audio: np.ndarray, sessions: np.ndarray, exports: np.ndarray,
             storage: np.ndarray) -> np.ndarray:
    """The smallest plan whose limits cover the usage (the top plan when none does)."""
    covers = ((audio[:, None] <= LIMIT_AUDIO) & (sessions[:, None] <= LIMIT_SESSIONS)
              & (exports[:, None] <= LIMIT_EXPORTS) & (storage[:, None] <= LIMIT_STORAGE))
    return np.where(covers.any(axis=1), covers.argmax(axis=1), TIER_COUNT - 1)


def overage_cents(plan: np.ndarray, audio: np.ndarray, sessions: np.ndarray,
                  exports: np.ndarray, storage: np.ndarray) -> np.ndarray:
    """Usage above the plan limits times the plan's overage prices, in cents."""
    fee = (np.maximum(audio - LIMIT_AUDIO[plan], 0) * PRICE_AUDIO[plan]
           + np.maximum(sessions - LIMIT_SESSIONS[plan], 0) * PRICE_SESSION[plan]
           + np.maximum(exports - LIMIT_EXPORTS[plan], 0) * PRICE_EXPORT[plan]
           + np.maximum(storage - LIMIT_STORAGE[plan], 0) * PRICE_STORAGE[plan])
    return np.round(fee * 100).astype(np.int64)
