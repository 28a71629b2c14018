"""Late and bad rows: the imperfections the platform has to detect, quarantine or wait for.

Late rows are delivered 2-30 hours after they happened (a phone that was offline, a retried
batch); the soak (soak/) asks for 1-72 hours after the row's hour, the look-back's full reach.
Bad rows are what broken clients and at-least-once delivery produce. Kinds are mutually
exclusive per row, so each one can be counted; except for duplicates (an extra copy of a valid
row) a bad row replaces the valid one it was derived from.
"""

from __future__ import annotations

import numpy as np

from orchestration.source.copy_writer import NULL_INT, concat, take
from orchestration.source.world import DAY, HOUR, UNKNOWN_ACCOUNT_BASE

BAD_KINDS = ("null_account", "null_time", "negative", "unknown_account", "future", "duplicate",
             "ended_before_started")  # the last one only exists for sessions


LATE_HOURS = (2, 30)


def delay(rng: np.random.Generator, recorded: np.ndarray, happened: np.ndarray,
          late_rate: float, hours: tuple[int, int] = LATE_HOURS,
          since: np.ndarray | None = None) -> np.ndarray:
    """recorded_at with a `late_rate` share moved to `hours` after `since` (default: `happened`).

    `since` is the row's partition time when lateness must stay within the look-back measured
    from the row's hour (a session ends after its start hour); a row is never recorded less than
    `hours[0]` after it happened.
    """
    late = rng.random(len(recorded)) < late_rate
    low, high = hours
    late_at = (happened if since is None else since) + rng.integers(low * HOUR, high * HOUR + 1, len(recorded))
    if since is not None:
        late_at = np.maximum(late_at, happened + low * HOUR)
    return np.where(late, late_at, recorded)


def corrupt(rng: np.random.Generator, rows: dict[str, np.ndarray], *, time_column: str,
            negative_column: str, bad_rate: float) -> dict[str, np.ndarray]:
    """A copy of `rows` where a `bad_rate` share of rows is bad, kinds mixed uniformly."""
    n = len(rows["recorded_at"])
    sessions = "ended_at" in rows
    bad = np.flatnonzero(rng.random(n) < bad_rate)
    kind = rng.integers(0, len(BAD_KINDS) if sessions else len(BAD_KINDS) - 1, len(bad))
    out = {name: values.copy() for name, values in rows.items()}

    def of(name: str) -> np.ndarray:
        return bad[kind == BAD_KINDS.index(name)]

    out["account_id"][of("null_account")] = NULL_INT
    out[time_column][of("null_time")] = NULL_INT
    negative = of("negative")
    out[negative_column][negative] = -np.maximum(np.abs(out[negative_column][negative]), 1)
    unknown = of("unknown_account")
    out["account_id"][unknown] = UNKNOWN_ACCOUNT_BASE + rng.integers(0, 10**6, len(unknown))
    future = of("future")
    shift = (out["recorded_at"][future] - out[time_column][future]
             + rng.integers(DAY + HOUR, 5 * DAY, len(future)))
    out[time_column][future] += shift
    if sessions:
        out["ended_at"][future] += shift
        backwards = of("ended_before_started")
        out["ended_at"][backwards] = out["started_at"][backwards] - rng.integers(
            60, 2 * HOUR, len(backwards))
    return concat([out, take(out, of("duplicate"))])
