"""The product's plan catalogue (table app.plans).

Limits are sized against the simulated activity so that most accounts fit their plan, heavy
accounts overflow it (overage revenue, upgrade pressure) and light paid accounts are candidates
for a downgrade. Annual prices are ten months' worth, the usual "two months free" offer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestration.source.copy_writer import NULL_INT, Table


@dataclass(frozen=True)
class Plan:
    plan_id: str
    plan_name: str
    tier: int
    monthly_price: float
    limit_audio_minutes: int | None  # per month; None = unlimited
    limit_sessions: int | None  # per month
    limit_storage_mb: int | None  # at any time
    limit_exports: int | None  # per month
    overage_audio_minute_price: float
    overage_session_price: float
    overage_storage_mb_price: float
    overage_export_price: float

    @property
    def annual_price(self) -> float:
        return round(self.monthly_price * 10, 2)

    @property
    def trial_days(self) -> int:
        """Paid plans start with a 14-day trial; the free plan has nothing to try."""
        return 14 if self.tier > 0 else 0


PLANS: tuple[Plan, ...] = (
    Plan("free", "Free", 0, 0.00, 120, 15, 1_000, 10, 0.0, 0.0, 0.0, 0.0),
    Plan("starter", "Starter", 1, 15.00, 900, 120, 10_000, 60, 0.0300, 0.1000, 0.0020, 0.0500),
    Plan("pro", "Pro", 2, 39.00, 4_000, 500, 50_000, 300, 0.0250, 0.0800, 0.0015, 0.0400),
    Plan("business", "Business", 3, 99.00, 15_000, 2_000, 200_000, 1_500, 0.0200, 0.0500, 0.0010,
         0.0300),
    Plan("enterprise", "Enterprise", 4, 299.00, 60_000, None, None, None, 0.0150, 0.0, 0.0, 0.0),
)
TIER_COUNT = len(PLANS)

PLANS_TABLE = Table(
    "app.plans",
    (
        ("plan_id", "text"), ("plan_name", "text"), ("tier", "int4"), ("monthly_price", "num2"),
        ("annual_price", "num2"), ("limit_audio_minutes", "int4"), ("limit_sessions", "int4"),
        ("limit_storage_mb", "int4"), ("limit_exports", "int4"),
        ("overage_audio_minute_price", "num4"), ("overage_session_price", "num4"),
        ("overage_storage_mb_price", "num4"), ("overage_export_price", "num4"),
        ("trial_days", "int4"), ("recorded_at", "ts"),
    ),
)


def _limit_array(values: list[int | None]) -> np.ndarray:
    return np.array([np.inf if v is None else float(v) for v in values])


# Per-plan vectors (indexed like PLANS) for vectorised billing; unlimited is +inf.
PLAN_IDS = np.array([p.plan_id for p in PLANS], dtype=object)
MONTHLY_PRICE = np.array([p.monthly_price for p in PLANS])
ANNUAL_PRICE = np.array([p.annual_price for p in PLANS])
LIMIT_AUDIO = _limit_array([p.limit_audio_minutes for p in PLANS])
LIMIT_SESSIONS = _limit_array([p.limit_sessions for p in PLANS])
LIMIT_STORAGE = _limit_array([p.limit_storage_mb for p in PLANS])
LIMIT_EXPORTS = _limit_array([p.limit_exports for p in PLANS])
PRICE_AUDIO = np.array([p.overage_audio_minute_price for p in PLANS])
PRICE_SESSION = np.array([p.overage_session_price for p in PLANS])
PRICE_STORAGE = np.array([p.overage_storage_mb_price for p in PLANS])
PRICE_EXPORT = np.array([p.overage_export_price for p in PLANS])
TRIAL_DAYS = np.array([p.trial_days for p in PLANS])


def plan_rows(recorded_at: int) -> dict[str, np.ndarray]:
    """The catalogue as COPY columns for PLANS_TABLE."""

    def ints(values: list[int | None]) -> np.ndarray:
        return np.array([NULL_INT if v is None else v for v in values], np.int64)

    def scaled(values: list[float], scale: int) -> np.ndarray:
        return np.array([round(v * 10**scale) for v in values], np.int64)

    return {
        "plan_id": PLAN_IDS,
        "plan_name": np.array([p.plan_name for p in PLANS], dtype=object),
        "tier": ints([p.tier for p in PLANS]),
        "monthly_price": scaled([p.monthly_price for p in PLANS], 2),
        "annual_price": scaled([p.annual_price for p in PLANS], 2),
        "limit_audio_minutes": ints([p.limit_audio_minutes for p in PLANS]),
        "limit_sessions": ints([p.limit_sessions for p in PLANS]),
        "limit_storage_mb": ints([p.limit_storage_mb for p in PLANS]),
        "limit_exports": ints([p.limit_exports for p in PLANS]),
        "overage_audio_minute_price": scaled([p.overage_audio_minute_price for p in PLANS], 4),
        "overage_session_price": scaled([p.overage_session_price for p in PLANS], 4),
        "overage_storage_mb_price": scaled([p.overage_storage_mb_price for p in PLANS], 4),
        "overage_export_price": scaled([p.overage_export_price for p in PLANS], 4),
        "trial_days": ints([p.trial_days for p in PLANS]),
        "recorded_at": np.full(len(PLANS), recorded_at, np.int64),
    }
