"""Product usage for one simulated day: sessions, usage events and hourly storage readings.

Everything is drawn for all accounts at once with numpy. The shape a model or a dashboard should
find in it:
  * heavy-tailed activity (lognormal account levels, gamma day-to-day noise);
  * a daily cycle in each account's *local* time (peaks around 10:30 and 15:00) and quieter
    weekends (by local weekday), so UTC totals mix several cycles;
  * new accounts ramp up over two weeks, growing teams trend upwards;
  * accounts heading for voluntary churn fade out over their last 3-6 weeks, churned ones stop;
  * free accounts stop at their plan's limits, with a `limit_reached` event (limits.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np

from orchestration.source.limits import free_windows, gate_exports, gate_sessions
from orchestration.source.plans import TRIAL_DAYS
from orchestration.source.population import TIMEZONES
from orchestration.source.world import (
    ACTIVE,
    DAY,
    HOUR,
    NEVER,
    NONE,
    PAST_DUE,
    TRIALING,
    World,
)

EXPORT_FORMATS = np.array(["csv", "pdf", "xlsx", "txt"], dtype=object)
EXPORT_FORMAT_P = (0.20, 0.35, 0.15, 0.30)
MAX_SESSION_MINUTES = 480  # the recorder stops at 8 hours
TRANSCRIPTION_FAILURE = 0.04


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def tz_offsets(at: int) -> np.ndarray:
    """Seconds east of UTC of every known timezone at `at` (DST-aware)."""
    when = datetime.fromtimestamp(at, UTC)
    return np.array([when.astimezone(_zone(tz)).utcoffset().total_seconds() for tz in TIMEZONES],
                    dtype=np.int64)


def _local_time_of_day(rng: np.random.Generator, m: int, uniform_share: float) -> np.ndarray:
    """Seconds after local midnight: a morning and an afternoon peak plus round-the-clock use."""
    u = rng.random(m)
    hours = np.where(
        u < uniform_share, rng.uniform(0.0, 24.0, m),
        np.where(u < (1 + uniform_share) / 2, rng.normal(10.5, 1.5, m), rng.normal(15.0, 1.8, m)),
    )
    return (np.mod(hours, 24.0) * HOUR).astype(np.int64)


def _in_window(local_tod: np.ndarray, offset: np.ndarray, t0: int) -> np.ndarray:
    """The UTC instant in [t0, t0 + 1 day) whose local time of day is `local_tod`."""
    return t0 + np.mod(local_tod - offset - t0, DAY)


def _is_weekend(at: np.ndarray, offset: np.ndarray) -> np.ndarray:
    return (((at + offset) // DAY + 3) % 7) >= 5  # 1970-01-01 was a Thursday


@dataclass
class Day:
    """Activity of one step: valid rows (before defects) and what billing needs from them."""

    t0: int
    sessions: dict[str, np.ndarray]
    events: dict[str, np.ndarray]
    readings: dict[str, np.ndarray]
    storage: np.ndarray  # (accounts, 24): MB at the end of each hour of the step
    pending_mb: np.ndarray  # per account: MB of recordings that end after the step
    free_upgrades: np.ndarray  # per account: its free month renewing in the step is an upgrade
    session_account: np.ndarray  # account index per session
    export_account: np.ndarray  # account index per export event
    export_at: np.ndarray

    def usage(self, idx: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, ...]:
        """Audio minutes, sessions and exports of accounts `idx` started in [lo, hi)."""
        pos = np.full(len(self.storage), -1)
        pos[idx] = np.arange(len(idx))

        def tally(account: np.ndarray, at: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
            p = pos[account]
            mask = p >= 0
            p, at = p[mask], at[mask]
            inside = (at >= lo[p]) & (at < hi[p])
            w = None if weights is None else weights[mask][inside]
            return np.bincount(p[inside], weights=w, minlength=len(idx)).astype(np.float64)

        audio = tally(self.session_account, self.sessions["started_at"],
                      self.sessions["audio_minutes"] / 1000)
        return (audio, tally(self.session_account, self.sessions["started_at"], None),
                tally(self.export_account, self.export_at, None))

    def storage_at(self, idx: np.ndarray, at: np.ndarray) -> np.ndarray:
        hour = np.clip((at - self.t0) // HOUR, 0, 23)
        return self.storage[idx, hour]

    def peak_storage(self, idx: np.ndarray, at: np.ndarray) -> np.ndarray:
        """The most MB accounts `idx` hold from `at` on, recordings still running included."""
        hour = np.clip((at - self.t0) // HOUR, 0, 23)
        later = np.where(np.arange(24)[None, :] >= hour[:, None], self.storage[idx], 0.0)
        return np.maximum(later.max(axis=1), self.storage[idx, -1] + self.pending_mb[idx])


def activity_window(w: World, t0: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per account: when in [t0, t0 + 1 day) it is active, and how intensely (a multiplier).

    Stops and restarts are known in advance (churn, non-payment, trials that will lapse,
    reactivations), so the activity of the day already reflects them.
    """
    a, t1, mid = w.acct, t0 + DAY, t0 + DAY // 2
    status, plan = a["status"], a["plan"]
    age_days = (mid - a["signup_at"]) / DAY
    factor = (0.5 + 0.5 * np.clip(age_days / 14, 0, 1)) * (
        1 + np.minimum(a["trend"] * np.maximum(age_days, 0), 1.5))
    lapsing_trial = (status == TRIALING) & (a["trial_outcome"] == 2)
    lifecycle = np.select(
        [status == NONE, (status == ACTIVE) & (plan == 0), lapsing_trial, status == TRIALING,
         status == PAST_DUE],
        [0.0, 0.55, 0.6, 1.25, 0.9], 1.0)
    decline = np.where(status == ACTIVE,
                       np.clip((a["churn_at"] - mid) / (a["decline_days"] * DAY), 0.15, 1.0), 1.0)
    act_from = np.maximum(t0, a["signup_at"])
    act_to = np.full(w.n, t1, np.int64)
    stop = np.select(
        [status == ACTIVE, status == PAST_DUE, lapsing_trial],
        [a["churn_at"], a["past_due_until"], a["sub_start"] + TRIAL_DAYS[plan] * DAY], NEVER)
    act_to = np.minimum(act_to, stop)
    back = (status == NONE) & (a["reactivate_at"] < t1)
    act_from = np.where(back, np.maximum(act_from, a["reactivate_at"]), act_from)
    lifecycle = np.where(back, np.where(a["last_plan"] > 0, 1.0, 0.55), lifecycle)
    return act_from, act_to, factor * lifecycle * decline


def simulate_day(rng: np.random.Generator, w: World, t0: int) -> Day:
    """Generate one step's sessions, usage events and storage readings (all valid rows).

    Storage readings: one per account that exists at measured_at, every hour, measured exactly
    on the hour boundary. The reading measured at 10:00:00 is the storage at the end of the
    hour 09:00-10:00 (recordings of sessions that ended before 10:00:00, minus deletions).
    """
    a, n = w.acct, w.n
    t1 = t0 + DAY
    act_from, act_to, factor = activity_window(w, t0)
    free = free_windows(w, t0, rng)
    factor = np.where(act_to > act_from, factor * rng.gamma(3.0, 1 / 3, n), 0.0)
    offset = tz_offsets(t0 + DAY // 2)[a["tz"]]

    # sessions
    acct = np.repeat(np.arange(n), rng.poisson(a["level"] * factor))
    start = _in_window(_local_time_of_day(rng, len(acct), 0.12), offset[acct], t0)
    keep = ~_is_weekend(start, offset[acct]) | (rng.random(len(acct)) < a["weekend"][acct])
    keep &= (start >= act_from[acct]) & (start < act_to[acct])
    acct, start = acct[keep], start[keep]
    order = np.lexsort((acct, start))
    acct, start = acct[order], start[order]
    m = len(acct)
    minutes = np.clip(rng.lognormal(np.log(a["dur_median"][acct]), 0.8), 1.0, MAX_SESSION_MINUTES)
    seconds = np.round(minutes * 60).astype(np.int64)
    audio = np.floor(seconds / 60 * rng.uniform(0.35, 0.98, m) * 1000).astype(np.int64)
    file_size = np.round(audio * rng.uniform(0.9, 1.1, m)).astype(np.int64)
    gate = gate_sessions(free, acct, start, audio, file_size)
    ok = gate.allowed
    acct, start, seconds = acct[ok], start[ok], seconds[ok]
    audio, file_size, limit_at = gate.audio[ok], gate.file_size[ok], start[gate.reached[ok]]
    limit_acct = acct[gate.reached[ok]]
    m = len(acct)
    ended = start + seconds
    sessions = {
        "session_id": w.take_ids("session", m), "account_id": a["account_id"][acct],
        "started_at": start, "ended_at": ended, "audio_minutes": audio,
        "audio_file_size_mb": file_size,
        "transcription_status": np.where(rng.random(m) < TRANSCRIPTION_FAILURE, "failed",
                                         "completed").astype(object),
        "recorded_at": ended + rng.integers(1, 21, m),
    }

    # exports and share links happen during or just after a session
    def during(session: np.ndarray) -> np.ndarray:
        """Random instants from a session's start to ten minutes after its end, within the step
        (so every export is metered in the step that made it)."""
        window = np.minimum(seconds[session] + 600, t1 - start[session])
        return start[session] + (rng.random(len(session)) * window).astype(np.int64)

    exp_sess = np.repeat(np.arange(m), rng.poisson(a["export_prop"][acct]))
    exp_at = during(exp_sess)
    exp_ok, exp_reached = gate_exports(free, acct[exp_sess], exp_at)
    limit_acct = np.concatenate([limit_acct, acct[exp_sess[exp_reached]]])
    limit_at = np.concatenate([limit_at, exp_at[exp_reached]])
    exp_sess, exp_at = exp_sess[exp_ok], exp_at[exp_ok]
    shr_sess = np.repeat(np.arange(m), rng.poisson(a["share_prop"][acct]))
    shr_at = during(shr_sess)
    # every link is opened at least once, over the following days
    acc_link = np.repeat(np.arange(len(shr_sess)), 1 + rng.poisson(2.0, len(shr_sess)))
    acc_at = shr_at[acc_link] + np.minimum(rng.exponential(20 * HOUR, len(acc_link)), 14 * DAY
                                           ).astype(np.int64) + 30
    # API calls: integrations run around the clock, people in office hours
    api_acct = np.repeat(np.arange(n), rng.poisson(a["api_level"] * factor))
    k = len(api_acct)
    api_at = np.where(rng.random(k) < 0.45, t0 + rng.integers(0, DAY, k),
                      _in_window(_local_time_of_day(rng, k, 0.0), offset[api_acct], t0))
    keep = ~_is_weekend(api_at, offset[api_acct]) | (rng.random(k) < 0.6)
    keep &= (api_at >= act_from[api_acct]) & (api_at < act_to[api_acct])
    api_acct, api_at = api_acct[keep], api_at[keep]

    exp_acct = acct[exp_sess]
    ev_acct = np.concatenate([api_acct, exp_acct, acct[shr_sess], acct[shr_sess][acc_link],
                              limit_acct])
    ev_at = np.concatenate([api_at, exp_at, shr_at, acc_at, limit_at])
    sizes = (len(api_acct), len(exp_sess), len(shr_sess), len(acc_link), len(limit_acct))
    ev_type = np.repeat(np.array(["api_call", "export", "share_link_created",
                                  "share_link_accessed", "limit_reached"], dtype=object), sizes)
    ev_format = np.full(len(ev_at), None, dtype=object)
    ev_format[sizes[0]:sizes[0] + sizes[1]] = rng.choice(EXPORT_FORMATS, sizes[1],
                                                          p=EXPORT_FORMAT_P)
    quantity = np.ones(len(ev_at), np.int64)
    quantity[:sizes[0]] = rng.geometric(0.35, sizes[0])
    order = np.argsort(ev_at, kind="stable")
    events = {
        "event_id": w.take_ids("event", len(ev_at)), "account_id": a["account_id"][ev_acct][order],
        "occurred_at": ev_at[order], "event_type": ev_type[order],
        "export_format": ev_format[order], "quantity": quantity[order],
        "recorded_at": ev_at[order] + rng.integers(1, 16, len(ev_at)),
    }

    storage = _storage(rng, w, t0, acct, ended, file_size)
    measured = t0 + HOUR * np.arange(1, 25)
    exists = a["signup_at"][:, None] < measured[None, :]
    r_acct, r_hour = np.nonzero(exists)
    readings = {
        "account_id": a["account_id"][r_acct], "measured_at": measured[r_hour],
        "storage_used_mb": np.round(storage[r_acct, r_hour] * 1000).astype(np.int64),
        "recorded_at": measured[r_hour] + rng.integers(1, 91, len(r_acct)),
    }
    return Day(t0, sessions, events, readings, storage, w.carry.sum(axis=1), free.upgrades,
               acct, exp_acct, exp_at)


def _storage(rng: np.random.Generator, w: World, t0: int, acct: np.ndarray, ended: np.ndarray,
             file_size_milli: np.ndarray) -> np.ndarray:
    """Storage (MB) per account at the end of each hour of the step; updates w.storage/carry.

    A recording counts once its session has ended; now and then an account deletes part of
    what it stored (at most what it held at the start of the day, so storage stays >= 0).
    """
    n = w.n
    size_mb = file_size_milli / 1000
    hour = (ended - t0) // HOUR  # < 48: sessions start inside the step and last <= 8 hours
    added = np.bincount(acct * 48 + hour, weights=size_mb, minlength=n * 48).reshape(n, 48)
    delta = added[:, :24] + w.carry
    w.carry = added[:, 24:].copy()
    before = w.acct["storage"]
    deleting = np.flatnonzero(rng.random(n) < 0.02)
    delta[deleting, rng.integers(0, 24, len(deleting))] -= (
        before[deleting] * rng.uniform(0.1, 0.6, len(deleting)))
    storage = np.maximum(before[:, None] + np.cumsum(delta, axis=1), 0.0)
    w.acct["storage"] = storage[:, -1].copy()
    return storage
