"""Subscription lifecycle and billing: app.subscriptions row versions and app.invoices.

Each account has at most one open subscription row. Scheduled events move it along:
  monthly check   -> renewal invoice (monthly, or yearly on annual billing) with last month's
                     overage (an overage-only invoice when no renewal is due), and maybe an
                     upgrade/downgrade (usage above the limits, or a free account blocked at
                     them, pushes up; little usage pulls down); a failed invoice puts the row
                     past_due
  trial end       -> trial_converted into a paid row, or trial_expired into free / nothing
  past_due end    -> canceled, end_reason non_payment (involuntary churn)
  churn_at        -> canceled, end_reason voluntary; drawn in advance so activity can decline
                     in the weeks before (the churn signal models should find)
  reactivate_at   -> some churned accounts come back weeks later with a new row
Every change emits a full row version; the writer keeps the latest one per subscription_id,
so the table holds current state and updated_at moves when a row ends.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from orchestration.source.billing import add_months, fit_plan, overage_cents
from orchestration.source.copy_writer import NULL_INT
from orchestration.source.plans import (
    ANNUAL_PRICE,
    LIMIT_AUDIO,
    LIMIT_EXPORTS,
    LIMIT_SESSIONS,
    LIMIT_STORAGE,
    MONTHLY_PRICE,
    PLAN_IDS,
    TIER_COUNT,
    TRIAL_DAYS,
)
from orchestration.source.world import ACTIVE, DAY, NEVER, NONE, PAST_DUE, TRIALING, Rows, World

STATUS_TEXT = np.array([None, "active", "trialing", "past_due"], dtype=object)
P_TRIAL = np.array([0.35, 0.55, 0.75, 0.40])  # by user type: start on a paid-plan trial
P_ANNUAL = 0.25
# Usage since `lo` up to `hi` per account index: (audio minutes, sessions, exports).
UsageFn = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, ...]]
# MB per account index at an instant.
StorageFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def free_upgrade_chance(at_limit: np.ndarray) -> np.ndarray:
    """Chance that a free account upgrades when its month renews; being blocked pushes."""
    return 0.005 + 0.08 * at_limit


class Lifecycle:
    """Applies lifecycle events to a World, collecting the rows they produce in `rows`."""

    def __init__(self, world: World, rng: np.random.Generator, rows: Rows,
                 usage: UsageFn | None = None, storage: StorageFn | None = None,
                 peak_storage: StorageFn | None = None) -> None:
        self.w, self.a, self.rng, self.rows = world, world.acct, rng, rows
        def zeros(idx: np.ndarray, *_: object) -> tuple[np.ndarray, ...]:
            return tuple(np.zeros(len(idx)) for _ in range(3))

        self.usage: UsageFn = usage or zeros
        self.storage: StorageFn = storage or (lambda idx, _at: self.a["storage"][idx])
        # the most MB held from an instant to the end of the step (a downgrade to free needs room)
        self.peak_storage: StorageFn = peak_storage or self.storage
        self.until = world.simulated_through  # end of the step being run (set by run)
        # per account: whether a free month renewing in this step ends in an upgrade, decided
        # before the step's activity (limits.py); None draws it at the check
        self.free_upgrades: np.ndarray | None = None

    # -- row versions and invoices -------------------------------------------------------

    def _emit(self, idx: np.ndarray, updated_at: np.ndarray, status: np.ndarray,
              end_reason: np.ndarray | None = None) -> None:
        a, n = self.a, len(idx)
        ended = end_reason is not None
        self.rows.add("app.subscriptions", {
            "subscription_id": a["sub_id"][idx], "account_id": a["account_id"][idx],
            "plan_id": PLAN_IDS[a["plan"][idx]],
            "billing_period": np.where(a["annual"][idx], "annual", "monthly").astype(object),
            "is_trial": a["trial"][idx], "started_at": a["sub_start"][idx],
            "ended_at": updated_at if ended else np.full(n, NULL_INT),
            "end_reason": end_reason if ended else np.full(n, None, dtype=object),
            "status": status, "updated_at": updated_at,
            "recorded_at": updated_at + self.rng.integers(1, 6, n),
        })

    def _open(self, idx: np.ndarray, at: np.ndarray, plan: np.ndarray, annual: np.ndarray,
              trial: np.ndarray, overage: np.ndarray | None = None) -> None:
        """Start a new row at `at`; paid non-trial rows are invoiced for their first period.

        `overage` (cents) is what the account's previous row still owes for its last month,
        billed on the new row's first invoice.
        """
        a = self.a
        a["sub_id"][idx] = self.w.take_ids("subscription", len(idx))
        a["plan"][idx], a["annual"][idx], a["trial"][idx] = plan, annual, trial
        a["sub_start"][idx], a["status"][idx] = at, np.where(trial, TRIALING, ACTIVE)
        a["check_k"][idx] = 1
        a["next_check"][idx] = np.where(trial, NEVER, add_months(at, 1))
        a["reactivate_at"][idx] = NEVER
        self._reset_usage(idx, at)
        self._emit(idx, at, STATUS_TEXT[a["status"][idx]])
        paid = ~trial & (plan > 0)
        owed = np.zeros(len(idx), np.int64) if overage is None else overage
        self._invoice(idx[paid], at[paid], np.zeros(paid.sum(), np.int64), owed[paid])

    def _close(self, idx: np.ndarray, at: np.ndarray, status: str,
               reason: np.ndarray | str) -> None:
        n = len(idx)
        reasons = np.broadcast_to(np.asarray(reason, dtype=object), (n,)).copy()
        self._emit(idx, at, np.full(n, status, dtype=object), reasons)

    def _invoice(self, idx: np.ndarray, at: np.ndarray, k: np.ndarray,
                 overage: np.ndarray) -> None:
        """Invoice period k of each row (issued at its start) plus the overage still owed."""
        a = self.a
        plan, annual = a["plan"][idx], a["annual"][idx]
        fee = np.round(np.where(annual, ANNUAL_PRICE[plan], MONTHLY_PRICE[plan]) * 100)
        period_end = add_months(a["sub_start"][idx], k + np.where(annual, 12, 1))
        self._bill(idx, at, period_end, fee.astype(np.int64), overage)

    def _invoice_overage(self, idx: np.ndarray, at: np.ndarray, overage: np.ndarray, *,
                         row_ends: bool = False) -> None:
        """Bill a finished month's overage on its own (no fee is due at `at`): annual rows
        between renewals, and a row ending in a downgrade to free (`row_ends`: its charge
        cannot fail, as there is no row left to fall past due)."""
        owed = overage > 0
        idx, at = idx[owed], at[owed]
        self._bill(idx, at, at, np.zeros(len(idx), np.int64), overage[owed],
                   period_start=self.a["period_start"][idx], can_fail=not row_ends)

    def _bill(self, idx: np.ndarray, at: np.ndarray, period_end: np.ndarray, fee: np.ndarray,
              overage: np.ndarray, period_start: np.ndarray | None = None,
              can_fail: bool = True) -> None:
        """Write invoices issued at `at` (cents); a failed one makes its row past_due."""
        a, n = self.a, len(idx)
        if n == 0:
            return
        u = self.rng.random(n)
        status = np.where(u >= 0.045, "paid",
                          np.where((u < 0.03) & can_fail, "failed", "open"))
        self.rows.add("app.invoices", {
            "invoice_id": self.w.take_ids("invoice", n), "account_id": a["account_id"][idx],
            "subscription_id": a["sub_id"][idx],
            "period_start": at if period_start is None else period_start,
            "period_end": period_end, "issued_at": at, "subscription_fee": fee,
            "overage_fee": overage, "total": fee + overage,
            "currency": np.full(n, "USD", dtype=object),
            "status": status.astype(object), "recorded_at": at + self.rng.integers(2, 61, n),
        })
        failed = idx[status == "failed"]
        if len(failed):
            at_failed = at[status == "failed"] + 60  # the charge is attempted a minute later
            a["status"][failed] = PAST_DUE
            a["past_due_until"][failed] = at_failed + self.rng.integers(3 * DAY, 14 * DAY,
                                                                        len(failed))
            self._emit(failed, at_failed, np.full(len(failed), "past_due", dtype=object))

    def _reset_usage(self, idx: np.ndarray, at: np.ndarray) -> None:
        self.a["period_start"][idx] = at
        for name in ("use_audio", "use_sessions", "use_exports"):
            self.a[name][idx] = 0.0

    def _draw_churn(self, idx: np.ndarray, at: np.ndarray) -> None:
        """Time to voluntary churn: exponential, monthly hazard by plan and billing."""
        plan, annual = self.a["plan"][idx], self.a["annual"][idx]
        hazard = np.where(plan == 0, 0.06, np.where(annual, 0.015, 0.035)) * (1 - 0.12 * plan)
        days = self.rng.exponential(30.0 / hazard)
        self.a["churn_at"][idx] = at + (np.minimum(days, 3650) * DAY).astype(np.int64)

    def _gone(self, idx: np.ndarray, at: np.ndarray, p_return: np.ndarray | float) -> None:
        """The account has no subscription now; some return weeks later."""
        a = self.a
        a["last_plan"][idx] = a["plan"][idx]
        a["status"][idx], a["sub_id"][idx] = NONE, 0
        a["churn_at"][idx] = a["next_check"][idx] = NEVER
        back = self.rng.random(len(idx)) < p_return
        a["reactivate_at"][idx] = np.where(
            back, at + self.rng.integers(14 * DAY, 90 * DAY, len(idx)), NEVER)

    # -- entry points ----------------------------------------------------------------------

    def expected_plan(self, idx: np.ndarray) -> np.ndarray:
        """The paid plan an account picks from its expected monthly usage (sometimes too small)."""
        a = self.a
        sessions = a["level"][idx] * (22 + 8 * a["weekend"][idx])
        audio = sessions * a["dur_median"][idx] * 0.85
        exports = sessions * a["export_prop"][idx]
        storage = audio * 2.0
        plan = fit_plan(audio, sessions, exports, storage)
        noise = self.rng.choice([-1, 0, 1], len(idx), p=[0.25, 0.65, 0.10])
        return np.clip(plan + noise, 1, TIER_COUNT - 1)

    def start(self, idx: np.ndarray, at: np.ndarray, trial: np.ndarray | None = None) -> None:
        """A new account's first row at signup: a paid-plan trial or the free plan."""
        a, n = self.a, len(idx)
        if trial is None:
            trial = self.rng.random(n) < P_TRIAL[a["user_type"][idx]]
        plan = np.where(trial, self.expected_plan(idx), 0)
        self._open(idx, at, plan, np.zeros(n, bool), trial)
        p_convert = np.clip(0.28 + a["convert_bias"][idx] + 0.06 * np.log(a["level"][idx]),
                            0.05, 0.9)
        u, v = self.rng.random(n), self.rng.random(n)
        a["trial_outcome"][idx] = np.where(u < p_convert, 0, np.where(v < 0.65, 1, 2))
        self._draw_churn(idx[~trial], at[~trial])
        a["churn_at"][idx[trial]] = NEVER

    def run(self, t1: int) -> None:
        """Process every scheduled event before `t1`, earliest first per account."""
        a = self.a
        self.until = t1
        handlers = (self._check, self._trial_end, self._past_due_end, self._churn,
                    self._reactivate)
        while True:
            status = a["status"]
            trial_end = a["sub_start"] + TRIAL_DAYS[a["plan"]] * DAY
            times = np.stack([
                np.where(status == ACTIVE, a["next_check"], NEVER),
                np.where(status == TRIALING, trial_end, NEVER),
                np.where(status == PAST_DUE, a["past_due_until"], NEVER),
                np.where(status == ACTIVE, a["churn_at"], NEVER),
                np.where(status == NONE, a["reactivate_at"], NEVER),
            ], axis=1)
            kind = times.argmin(axis=1)
            when = times[np.arange(len(kind)), kind]
            due = when < t1
            if not due.any():
                return
            for k, handler in enumerate(handlers):
                idx = np.flatnonzero(due & (kind == k))
                if len(idx):
                    handler(idx, when[idx])

    # -- event handlers --------------------------------------------------------------------

    def _check(self, idx: np.ndarray, at: np.ndarray) -> None:
        a, rng, n = self.a, self.rng, len(idx)
        audio, sessions, exports = self.usage(idx, a["period_start"][idx], at)
        audio, sessions = audio + a["use_audio"][idx], sessions + a["use_sessions"][idx]
        exports = exports + a["use_exports"][idx]
        storage = self.storage(idx, at)
        plan, annual, k = a["plan"][idx], a["annual"][idx], a["check_k"][idx]
        util = np.maximum.reduce([audio / LIMIT_AUDIO[plan], sessions / LIMIT_SESSIONS[plan],
                                  exports / LIMIT_EXPORTS[plan], storage / LIMIT_STORAGE[plan]])
        renewal = ~annual | (k % 12 == 0)
        free = plan == 0
        over = np.where(free, util >= 1, util > 1)  # free usage stops at the limit
        overage = np.where(free, 0, overage_cents(plan, audio, sessions, exports, storage))
        # overage above the plan's own price makes the bigger plan the cheaper one
        costly = overage > MONTHLY_PRICE[plan] * 100
        p_up = np.where(free, free_upgrade_chance(over),
                        np.where(annual, 0.12 * over, 0.015 + 0.3 * over) + 0.5 * costly)
        p_up = np.where(plan == TIER_COUNT - 1, 0.0, p_up)
        fit = fit_plan(audio * 1.3, sessions * 1.3, exports * 1.3, storage * 1.2)
        # a plan bigger than the month needed invites a downgrade at renewal
        p_down = np.where(free | ~renewal, 0.0, 0.05 + 0.1 * (fit < plan) + 0.1 * (util < 0.25))
        u = rng.random(n)
        up, down = u < p_up, (u >= p_up) & (u < p_up + p_down)
        if self.free_upgrades is not None:
            up = np.where(free, self.free_upgrades[idx], up)
        into_free = np.flatnonzero(down & (plan == 1))
        down[into_free] = self._fits_free(idx[into_free], at[into_free])
        target = np.where(up, np.clip(np.maximum(plan + 1, fit), 1, TIER_COUNT - 1), plan - 1)

        change = up | down
        stay = idx[~change]
        renew = ~change & renewal & ~free
        self._invoice(idx[renew], at[renew], k[renew], overage[renew])
        between = ~change & ~renewal
        self._invoice_overage(idx[between], at[between], overage[between])
        a["check_k"][stay] += 1
        a["next_check"][stay] = add_months(a["sub_start"][stay], a["check_k"][stay])
        self._reset_usage(stay, at[~change])

        to_free = down & (target == 0)
        self._invoice_overage(idx[to_free], at[to_free], overage[to_free], row_ends=True)
        overage = np.where(to_free, 0, overage)
        moved = idx[change]
        if len(moved):
            self._close(moved, at[change], "ended", np.where(up[change], "upgrade", "downgrade"))
            new_plan = target[change]
            new_annual = np.where(free[change], rng.random(len(moved)) < P_ANNUAL, annual[change])
            self._open(moved, at[change], new_plan, new_annual & (new_plan > 0),
                       np.zeros(len(moved), bool), overage[change])

    def _fits_free(self, idx: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Whether each account's usage from `at` to the end of the step stays under the free
        limits: a downgrade to free is only taken then, so the free plan never runs over."""
        audio, sessions, exports = self.usage(idx, at, np.full(len(idx), self.until))
        return ((audio < LIMIT_AUDIO[0]) & (sessions < LIMIT_SESSIONS[0])
                & (exports < LIMIT_EXPORTS[0]) & (self.peak_storage(idx, at) < LIMIT_STORAGE[0]))

    def _trial_end(self, idx: np.ndarray, at: np.ndarray) -> None:
        a = self.a
        outcome = a["trial_outcome"][idx]
        self._close(idx, at, "ended", np.where(outcome == 0, "trial_converted", "trial_expired"))
        convert, to_free, leave = idx[outcome == 0], idx[outcome == 1], idx[outcome == 2]
        self._open(convert, at[outcome == 0], a["plan"][convert],
                   self.rng.random(len(convert)) < P_ANNUAL, np.zeros(len(convert), bool))
        self._open(to_free, at[outcome == 1], np.zeros(len(to_free), np.int64),
                   np.zeros(len(to_free), bool), np.zeros(len(to_free), bool))
        stay = outcome < 2
        self._draw_churn(idx[stay], at[stay])
        self._gone(leave, at[outcome == 2], 0.05)

    def _past_due_end(self, idx: np.ndarray, at: np.ndarray) -> None:
        self._close(idx, at, "canceled", "non_payment")
        self._gone(idx, at, 0.25)

    def _churn(self, idx: np.ndarray, at: np.ndarray) -> None:
        self._close(idx, at, "canceled", "voluntary")
        self._gone(idx, at, np.where(self.a["plan"][idx] > 0, 0.15, 0.04))

    def _reactivate(self, idx: np.ndarray, at: np.ndarray) -> None:
        a, rng, n = self.a, self.rng, len(idx)
        plan = a["last_plan"][idx]
        plan = np.where((plan > 1) & (rng.random(n) < 0.2), plan - 1, plan)
        self._open(idx, at, plan, (plan > 0) & (rng.random(n) < 0.2), np.zeros(n, bool))
        self._draw_churn(idx, at)
