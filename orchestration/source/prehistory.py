"""The product's life before the simulated history: subscriptions and invoices only.

The accounts that signed up before the history starts go through the same lifecycle as in the
live window (orchestration/source/subscriptions.py): trials that convert or lapse, monthly checks
that upgrade, downgrade and bill overage, failed payments, churn and reactivations. So the MRR
bridge has the same movements before the window as inside it.

What is not simulated here is activity row by row (nobody would see those rows): the checks read
each account's expected usage over the month instead, from the same traits that drive the live
sessions, with month-to-month noise, and free accounts stop at their limits. Storage grows by the
expected recordings of each day (on the free plan within its audio limit, up to its storage
limit) and now and then an account deletes part of it, as in activity.py.
"""

from __future__ import annotations

import numpy as np

from orchestration.source.plans import LIMIT_AUDIO, LIMIT_EXPORTS, LIMIT_SESSIONS, LIMIT_STORAGE
from orchestration.source.subscriptions import Lifecycle, UsageFn
from orchestration.source.world import ACTIVE, DAY, HOUR, NONE, TRIALING, Rows, World

AUDIO_SHARE = 0.9  # recorded audio per session, as a share of its median length (activity.py)
STEP_DAYS = 7


def _daily_sessions(a: dict[str, np.ndarray], idx: np.ndarray) -> np.ndarray:
    """Expected sessions per day: weekdays at the account's level, weekends at its weekend share,
    scaled like activity.activity_window (free accounts use the product less, trials more)."""
    status, plan = a["status"][idx], a["plan"][idx]
    lifecycle = np.select([status == NONE, status == TRIALING, plan == 0], [0.0, 1.25, 0.55], 1.0)
    return a["level"][idx] * (5 + 2 * a["weekend"][idx]) / 7 * lifecycle


def _expected_usage(a: dict[str, np.ndarray], rng: np.random.Generator) -> UsageFn:
    """A month's usage as the checks see it: the expected sessions with month-to-month noise,
    stopped at the limits on the free plan."""

    def usage(who: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, ...]:
        sessions = _daily_sessions(a, who) * (hi - lo) / DAY * rng.gamma(4.0, 0.25, len(who))
        audio = sessions * a["dur_median"][who] * AUDIO_SHARE
        exports = sessions * a["export_prop"][who]
        free = a["plan"][who] == 0
        return (np.where(free, np.minimum(audio, LIMIT_AUDIO[0]), audio),
                np.where(free, np.minimum(sessions, LIMIT_SESSIONS[0]), sessions),
                np.where(free, np.minimum(exports, LIMIT_EXPORTS[0]), exports))

    return usage


def simulate_prehistory(world: World, rows: Rows, signup: np.ndarray, idx: np.ndarray,
                        start: int) -> None:
    """Run the lifecycle of accounts `idx` (signing up at `signup`) week by week up to `start`.

    Events keep their exact instants whatever the step (each step processes its events in time
    order); a week only sets how often storage grows. Each step draws from its own generator
    seeded with (seed, hour of the step's start), as the live steps do; those hours all lie
    before the history, so the two never share a stream.
    """
    a = world.acct
    step = STEP_DAYS * DAY
    t0 = start - -(-(start - int(signup.min())) // step) * step if len(signup) else start
    while t0 < start:
        rng = np.random.default_rng([world.seed, t0 // HOUR])
        life = Lifecycle(world, rng, rows, usage=_expected_usage(a, rng))
        joining = (signup >= t0) & (signup < t0 + step)
        life.start(idx[joining], signup[joining])
        life.run(t0 + step)
        alive = idx[(a["status"][idx] == ACTIVE) | (a["status"][idx] == TRIALING)]
        recorded = _daily_sessions(a, alive) * STEP_DAYS * a["dur_median"][alive] * (
            AUDIO_SHARE * rng.uniform(0.6, 1.4, len(alive)))
        free = a["plan"][alive] == 0
        recorded = np.where(free, np.minimum(recorded, LIMIT_AUDIO[0] * STEP_DAYS / 30), recorded)
        deleting = rng.random(len(alive)) < 1 - 0.98**STEP_DAYS  # 2 % of accounts a day
        kept = np.where(deleting, rng.uniform(0.4, 0.9, len(alive)), 1.0)
        grown = a["storage"][alive] * kept + recorded
        a["storage"][alive] = np.where(free, np.minimum(grown, LIMIT_STORAGE[0]), grown)
        t0 += step


def month_to_date(world: World, idx: np.ndarray, start: int, rng: np.random.Generator) -> None:
    """Set the usage counters of accounts `idx` to their billing month's usage up to `start`,
    so the first monthly check inside the history judges (and bills) a whole month."""
    a = world.acct
    audio, sessions, exports = _expected_usage(a, rng)(idx, a["period_start"][idx],
                                                       np.full(len(idx), start))
    a["use_audio"][idx] = np.round(audio, 3)
    a["use_sessions"][idx], a["use_exports"][idx] = np.floor(sessions), np.floor(exports)
