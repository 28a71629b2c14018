"""The free plan's limits, enforced the way the product does: usage stops at the limit.

A free account may start a recording while its sessions, audio minutes (this billing month) and
stored megabytes (at any time) are below the plan's limits; the recording that reaches a limit is
cut there, and a `limit_reached` event is recorded at its start. Exports stop at the monthly
export limit the same way. Paid plans are never blocked: they pay overage instead (billing.py).

Within one simulated day the free periods are known in advance: a free row that is open at the
day's start (its month may renew during the day, which resets the counters), a trial that lapses
to free, a free account that comes back. Whether a renewing free month ends in an upgrade is
decided at the day's start, from the month's usage so far, so the rest of that day is limited
only if the account stays free. A downgrade to free at a monthly check is only taken when the
rest of the day fits the free plan (subscriptions.py), so no free usage goes unchecked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestration.source.plans import (
    LIMIT_AUDIO,
    LIMIT_EXPORTS,
    LIMIT_SESSIONS,
    LIMIT_STORAGE,
    TRIAL_DAYS,
)
from orchestration.source.subscriptions import free_upgrade_chance
from orchestration.source.world import ACTIVE, DAY, NEVER, NONE, TRIALING, World

FREE = 0
_FOREVER = np.iinfo(np.int64).min  # "free since before the day started"


@dataclass(frozen=True)
class FreeWindows:
    """Per account: when in the day the free plan applies and the month's usage before it."""

    since: np.ndarray  # free from this instant (NEVER: not free today)
    renews_at: np.ndarray  # the free month renews here (counters reset; NEVER: not today)
    upgrades: np.ndarray  # the renewal today is an upgrade: no limits after it
    audio: np.ndarray  # audio minutes used this month before the day
    sessions: np.ndarray
    exports: np.ndarray
    storage: np.ndarray  # MB stored or being recorded at the day's start


def free_windows(w: World, t0: int, rng: np.random.Generator) -> FreeWindows:
    """The free periods of the day starting at t0, from the lifecycle state at t0."""
    a, t1 = w.acct, t0 + DAY
    status, plan = a["status"], a["plan"]
    free_now = (status == ACTIVE) & (plan == FREE)
    trial_end = a["sub_start"] + TRIAL_DAYS[plan] * DAY
    lapses = (status == TRIALING) & (a["trial_outcome"] == 1) & (trial_end < t1)
    returns = (status == NONE) & (a["reactivate_at"] < t1) & (a["last_plan"] == FREE)
    since = np.select([free_now, lapses, returns], [_FOREVER, trial_end, a["reactivate_at"]],
                      NEVER)
    renews = np.where(free_now & (a["next_check"] < t1), a["next_check"], NEVER)

    def used(name: str) -> np.ndarray:
        return np.where(free_now, a[name], 0.0)

    storage = a["storage"] + w.carry.sum(axis=1)
    at_limit = ((used("use_audio") >= LIMIT_AUDIO[FREE])
                | (used("use_sessions") >= LIMIT_SESSIONS[FREE])
                | (used("use_exports") >= LIMIT_EXPORTS[FREE]) | (storage >= LIMIT_STORAGE[FREE]))
    upgrades = (renews < NEVER) & (rng.random(w.n) < free_upgrade_chance(at_limit))
    return FreeWindows(since.astype(np.int64), renews.astype(np.int64), upgrades,
                       used("use_audio"), used("use_sessions"), used("use_exports"), storage)


def _running(values: np.ndarray, group: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Per item, the sum of `values` over the earlier items (in `order`) of its group."""
    v, g = values[order], group[order]
    total = np.cumsum(v)
    start = np.r_[True, g[1:] != g[:-1]]
    offset = np.maximum.accumulate(np.where(start, np.arange(len(g)), 0))
    before = total - v - (total[offset] - v[offset])
    out = np.empty_like(before)
    out[order] = before
    return out


@dataclass(frozen=True)
class SessionGate:
    """Which candidate sessions happen, their (possibly cut) sizes and where a limit is hit."""

    allowed: np.ndarray
    audio: np.ndarray  # milli-minutes, cut at the audio limit
    file_size: np.ndarray  # milli-MB, cut at the storage limit
    reached: np.ndarray  # this session reaches a limit (a limit_reached event at its start)


def gate_sessions(fw: FreeWindows, acct: np.ndarray, start: np.ndarray, audio: np.ndarray,
                  file_size: np.ndarray) -> SessionGate:
    """Apply the free limits to the day's candidate sessions (all integers in milli-units)."""
    renewed = start >= fw.renews_at[acct]
    limited = (start >= fw.since[acct]) & ~(renewed & fw.upgrades[acct])
    month = acct * 2 + renewed  # counters restart when the free month renews
    by_month = np.lexsort((start, month))
    counted = limited.astype(np.float64)
    sessions_before = np.where(renewed, 0.0, fw.sessions[acct]) + _running(counted, month,
                                                                           by_month)
    # the month's audio so far is a float sum of minutes: back to whole milli-minutes
    audio_before = (np.round(np.where(renewed, 0.0, fw.audio[acct]) * 1000)
                    + _running(audio * limited, month, by_month))
    audio_room = LIMIT_AUDIO[FREE] * 1000 - audio_before
    monthly_ok = (sessions_before < LIMIT_SESSIONS[FREE]) & (audio_room > 0)
    # storage never renews: it counts every recording that the monthly limits let through
    stored = file_size * (~limited | monthly_ok)
    storage_before = fw.storage[acct] * 1000 + _running(stored.astype(np.float64), acct,
                                                        np.lexsort((start, acct)))
    storage_room = np.floor(LIMIT_STORAGE[FREE] * 1000 - storage_before)
    under = monthly_ok & (storage_room > 0)
    allowed = ~limited | under
    cut_audio = np.where(limited, np.minimum(audio, np.maximum(audio_room, 0)), audio)
    cut_file = np.where(cut_audio < audio,  # a recording cut short is smaller
                        np.floor(file_size * (cut_audio / np.maximum(audio, 1))), file_size)
    cut_file = np.where(limited, np.minimum(cut_file, np.maximum(storage_room, 0)), file_size)
    reached = limited & under & ((sessions_before + 1 >= LIMIT_SESSIONS[FREE])
                                 | (audio >= audio_room) | (file_size >= storage_room))
    return SessionGate(allowed, cut_audio.astype(np.int64), cut_file.astype(np.int64), reached)


def gate_exports(fw: FreeWindows, acct: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, ...]:
    """(allowed, reached) per candidate export: the free plan's monthly export limit."""
    renewed = at >= fw.renews_at[acct]
    limited = (at >= fw.since[acct]) & ~(renewed & fw.upgrades[acct])
    month = acct * 2 + renewed
    before = np.where(renewed, 0.0, fw.exports[acct]) + _running(
        limited.astype(np.float64), month, np.lexsort((at, month)))
    under = before < LIMIT_EXPORTS[FREE]
    return ~limited | under, limited & under & (before + 1 >= LIMIT_EXPORTS[FREE])
