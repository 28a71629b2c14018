"""The simulator's memory between runs: every account's traits and lifecycle state.

Appending an hour must continue exactly where the previous run stopped (same subscriptions,
same storage, same id sequences), so everything the next step needs is kept in per-account
numpy arrays and persisted as one .npz blob in app.simulation_state. Rows already generated but
recorded after the horizon are not part of this state: they wait in app.simulation_pending.
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from orchestration.source.copy_writer import concat

DAY = 86_400
HOUR = 3_600
NEVER = 2**62  # "no such event scheduled" for int64 timestamps
FIRST_ACCOUNT_ID = 100_001
UNKNOWN_ACCOUNT_BASE = 9_000_000_000  # bad rows point at accounts that do not exist

# Lifecycle status of an account's current subscription row.
NONE, ACTIVE, TRIALING, PAST_DUE = 0, 1, 2, 3

# Per-account arrays and their dtypes: traits (drawn at signup), then lifecycle state.
ACCOUNT_FIELDS: dict[str, type] = {
    "account_id": np.int64, "user_type": np.int64, "country": np.int64, "tz": np.int64,
    "channel": np.int64, "signup_at": np.int64,
    "level": np.float64, "weekend": np.float64, "dur_median": np.float64,
    "api_level": np.float64, "export_prop": np.float64, "share_prop": np.float64,
    "trend": np.float64, "decline_days": np.float64, "convert_bias": np.float64,
    # current subscription row
    "sub_id": np.int64, "plan": np.int64, "annual": np.bool_, "trial": np.bool_,
    "sub_start": np.int64, "status": np.int64,
    # scheduled events (NEVER when not scheduled)
    "check_k": np.int64, "next_check": np.int64, "trial_outcome": np.int64,
    "past_due_until": np.int64, "churn_at": np.int64, "reactivate_at": np.int64,
    "last_plan": np.int64,
    # usage in the current billing month, for overage
    "period_start": np.int64, "use_audio": np.float64, "use_sessions": np.float64,
    "use_exports": np.float64,
    # storage in MB at the end of the last simulated step
    "storage": np.float64,
}
_DEFAULTS = {"next_check": NEVER, "past_due_until": NEVER, "churn_at": NEVER,
             "reactivate_at": NEVER}
_COUNTERS = ("subscription", "invoice", "session", "event")


@dataclass
class World:
    """Simulation parameters, id sequences and per-account state (see module docstring)."""

    seed: int
    start: int  # history start, unix seconds
    signup_rate: float  # expected new accounts per day at `start`
    growth: float  # daily growth rate of the signup rate
    simulated_through: int  # steps are generated up to here
    next_id: dict[str, int] = field(default_factory=lambda: {c: 1 for c in _COUNTERS})
    acct: dict[str, np.ndarray] = field(
        default_factory=lambda: {k: np.zeros(0, t) for k, t in ACCOUNT_FIELDS.items()}
    )
    # storage (MB) of sessions that end during the next step, by account and hour of that step
    carry: np.ndarray = field(default_factory=lambda: np.zeros((0, 24)))

    @property
    def n(self) -> int:
        return len(self.acct["account_id"])

    def take_ids(self, counter: str, count: int) -> np.ndarray:
        """`count` fresh ids from a sequence; ids follow generation order, so they are stable."""
        first = self.next_id[counter]
        self.next_id[counter] = first + count
        return np.arange(first, first + count, dtype=np.int64)

    def add_accounts(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        """Append accounts (traits from `columns`, state at defaults); returns their indices."""
        count = len(columns["account_id"])
        for name, dtype in ACCOUNT_FIELDS.items():
            values = columns.get(name, np.full(count, _DEFAULTS.get(name, 0), dtype))
            self.acct[name] = np.concatenate([self.acct[name], values.astype(dtype)])
        self.carry = np.vstack([self.carry, np.zeros((count, 24))])
        return np.arange(self.n - count, self.n)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        scalars = np.array([self.seed, self.start, self.simulated_through]
                           + [self.next_id[c] for c in _COUNTERS], np.int64)
        rates = np.array([self.signup_rate, self.growth])
        np.savez(buffer, _scalars=scalars, _rates=rates, _carry=self.carry, **self.acct)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> World:
        with np.load(io.BytesIO(blob)) as npz:
            scalars, rates = npz["_scalars"], npz["_rates"]
            world = cls(seed=int(scalars[0]), start=int(scalars[1]),
                        signup_rate=float(rates[0]), growth=float(rates[1]),
                        simulated_through=int(scalars[2]))
            world.next_id = {c: int(v) for c, v in zip(_COUNTERS, scalars[3:], strict=True)}
            world.acct = {name: npz[name] for name in ACCOUNT_FIELDS}
            world.carry = npz["_carry"]
        return world


class Rows:
    """Rows generated by a step, collected per table as column dicts."""

    def __init__(self) -> None:
        self._parts: dict[str, list[dict[str, np.ndarray]]] = defaultdict(list)

    def add(self, table: str, columns: dict[str, np.ndarray]) -> None:
        self._parts[table].append(columns)

    def tables(self) -> dict[str, dict[str, np.ndarray]]:
        merged = {name: concat(parts) for name, parts in self._parts.items()}
        return {name: cols for name, cols in merged.items() if cols and len(cols["recorded_at"])}
