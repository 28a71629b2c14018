"""Point-in-time features and labels for churn risk (issue 4, part 1).

A *snapshot* is (paying account, cutoff). Features use only what was known strictly before the
cutoff; the label looks at the 30 days after it.

* Paying at the cutoff: a paid subscription row (not a trial, plan not free) with
  ``started_at < cutoff`` and not ended by then (``ended_at`` NULL or ``>= cutoff``). The raw
  subscription table mirrors the source's current state, so an ``ended_at`` (and its
  ``end_reason``) after the cutoff is treated as unknown: rows are masked to what an observer at
  the cutoff would have seen (`subscriptions_as_of`).
* Usage: daily rows with ``usage_date + 1 day <= cutoff`` (whole days before the cutoff).
  Invoices: ``issued_at < cutoff``. MRR months: months whose end instant is ``<= cutoff``.
* Label: the account has a subscription-churn event in ``(cutoff, cutoff + horizon]``: a paid
  row ends and no paid row is in force at that instant (docs/metrics.md; a downgrade to free is
  churn, a change between paid plans is not). Only cutoffs with ``cutoff + horizon <= data
  horizon`` are labelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)
RECENT_DAYS = 14      # the recent usage window
PRIOR_DAYS = 28       # the baseline window just before it
UTIL_DAYS = 30        # utilization vs monthly plan limits over the last 30 days
LOOKBACK_DAYS = 90    # billing events and plan changes

FEATURES = [
    "sessions_per_day_14d",
    "sessions_per_day_prior_28d",
    "usage_trend_log_ratio",
    "audio_minutes_per_day_14d",
    "active_days_14d",
    "days_since_last_activity",
    "failed_transcription_share_28d",
    "utilization_max_30d",
    "storage_utilization",
    "tenure_days",
    "paid_tenure_days",
    "plan_tier",
    "monthly_price",
    "is_annual",
    "failed_invoices_90d",
    "downgrades_90d",
    "upgrades_90d",
    "mrr_contractions_6m",
    "usage_history_days",
]


@dataclass(frozen=True)
class ChurnInputs:
    """What the features and labels are built from (the asset reads these from the warehouse).

    usage: account_id, usage_date, sessions_created, audio_minutes_processed,
        transcriptions_completed, transcriptions_failed, exports_generated, storage_used_mb
    subscriptions: subscription_id, account_id, plan_id, billing_period, is_trial, started_at,
        ended_at, end_reason (latest version per subscription)
    plans: plan_id, tier, is_free, monthly_price, annual_price_per_month, limit_audio_minutes,
        limit_sessions, limit_storage_mb, limit_exports (NULL limit = unlimited)
    accounts: account_id, signup_at
    invoices: account_id, issued_at, status
    mrr: account_id, mrr_month, movement (may be empty)
    """

    usage: pd.DataFrame
    subscriptions: pd.DataFrame
    plans: pd.DataFrame
    accounts: pd.DataFrame
    invoices: pd.DataFrame
    mrr: pd.DataFrame

    def normalised(self) -> ChurnInputs:
        def ts(frame: pd.DataFrame, *cols: str) -> pd.DataFrame:
            frame = frame.copy()
            for c in cols:
                frame[c] = pd.to_datetime(frame[c], utc=True)
            return frame

        mrr = self.mrr if len(self.mrr.columns) else pd.DataFrame(
            columns=["account_id", "mrr_month", "movement"])
        return ChurnInputs(
            usage=ts(self.usage, "usage_date"),
            subscriptions=ts(self.subscriptions, "started_at", "ended_at"),
            plans=self.plans.copy(),
            accounts=ts(self.accounts, "signup_at"),
            invoices=ts(self.invoices, "issued_at"),
            mrr=ts(mrr, "mrr_month"),
        )


def _paid_rows(subs: pd.DataFrame, plans: pd.DataFrame) -> pd.DataFrame:
    p = subs.merge(plans[["plan_id", "tier", "is_free", "monthly_price", "annual_price_per_month"]],
                   on="plan_id", how="left")
    paid = ~p.is_trial.astype(bool) & ~p.is_free.fillna(False).astype(bool) & (p.tier.fillna(0) > 0)
    return p[paid]


def subscriptions_as_of(subs: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Rows started before the cutoff, with an end (and its reason) only if it happened before."""
    s = subs[subs.started_at < cutoff].copy()
    later = s.ended_at.isna() | (s.ended_at >= cutoff)
    s.loc[later, "ended_at"] = pd.NaT
    s.loc[later, "end_reason"] = None
    return s


def churn_events(subs: pd.DataFrame, plans: pd.DataFrame) -> pd.DataFrame:
    """Subscription churn: a paid row ends and no paid row of the account is in force then."""
    paid = _paid_rows(subs, plans)
    ended = paid[paid.ended_at.notna()][["account_id", "subscription_id", "ended_at"]]
    pairs = ended.merge(paid[["account_id", "subscription_id", "started_at", "ended_at"]],
                        on="account_id", suffixes=("", "_other"))
    covering = pairs[(pairs.subscription_id != pairs.subscription_id_other)
                     & (pairs.started_at <= pairs.ended_at)
                     & (pairs.ended_at_other.isna() | (pairs.ended_at_other > pairs.ended_at))]
    covered = set(zip(covering.account_id, covering.subscription_id, strict=True))
    keep = np.array([(a, s) not in covered
                     for a, s in zip(ended.account_id, ended.subscription_id, strict=True)], dtype=bool)
    return ended[keep].rename(columns={"ended_at": "churned_at"})[["account_id", "churned_at"]]


def paying_at(subs: pd.DataFrame, plans: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """One row per account paying at the cutoff (as of the cutoff): its latest paid row."""
    paid = _paid_rows(subscriptions_as_of(subs, cutoff), plans)
    paid = paid[paid.ended_at.isna()]
    return paid.sort_values(["account_id", "started_at"]).groupby("account_id").tail(1)


def build_features(inputs: ChurnInputs, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Features of the accounts paying at `cutoff`, from data strictly before it.

    Returns account_id, cutoff and the FEATURES columns (no NaN: missing activity is 0, a missing
    last activity is the observed history length + 1 day).
    """
    cutoff = pd.Timestamp(cutoff)
    subs_seen = subscriptions_as_of(inputs.subscriptions, cutoff)
    current = paying_at(inputs.subscriptions, inputs.plans, cutoff)
    if current.empty:
        return pd.DataFrame(columns=["account_id", "cutoff", *FEATURES])
    out = pd.DataFrame({"account_id": current.account_id.to_numpy()})
    cur = current.set_index("account_id")

    usage = inputs.usage[inputs.usage.usage_date + DAY <= cutoff]
    usage = usage[usage.account_id.isin(out.account_id)]
    age = ((cutoff - usage.usage_date) / DAY).astype(int)  # 1 = the day before the cutoff
    activity = usage.sessions_created.fillna(0) + usage.exports_generated.fillna(0)

    def window_sum(column: pd.Series, lo: int, hi: int) -> pd.Series:
        mask = (age >= lo) & (age <= hi)
        return column[mask].groupby(usage.account_id[mask]).sum()

    def per_account(series: pd.Series, default: float = 0.0) -> np.ndarray:
        return out.account_id.map(series).fillna(default).astype(float).to_numpy()

    # Daily rows are dense from the first signup, also before activity was first extracted: the
    # observed history starts at the first day with any activity (of any account) before the cutoff.
    seen = inputs.usage[(inputs.usage.usage_date + DAY <= cutoff)
                        & ((inputs.usage.sessions_created.fillna(0) + inputs.usage.exports_generated.fillna(0)) > 0)]
    first_day = seen.usage_date.min() if len(seen) else cutoff
    history = float(max(0, min(RECENT_DAYS + PRIOR_DAYS, (cutoff - first_day) / DAY)))
    recent_days = max(1.0, min(RECENT_DAYS, history))
    prior_days = max(1.0, min(PRIOR_DAYS, history - RECENT_DAYS))
    sessions = usage.sessions_created.fillna(0).astype(float)
    s14 = per_account(window_sum(sessions, 1, RECENT_DAYS)) / recent_days
    s_prior = per_account(window_sum(sessions, RECENT_DAYS + 1, RECENT_DAYS + PRIOR_DAYS)) / prior_days
    if history <= RECENT_DAYS:
        s_prior = s14.copy()  # no baseline observed: no trend
    out["sessions_per_day_14d"] = s14
    out["sessions_per_day_prior_28d"] = s_prior
    out["usage_trend_log_ratio"] = np.log((s14 + 0.1) / (s_prior + 0.1))
    audio = usage.audio_minutes_processed.fillna(0).astype(float)
    out["audio_minutes_per_day_14d"] = per_account(window_sum(audio, 1, RECENT_DAYS)) / recent_days
    out["active_days_14d"] = per_account(window_sum((activity > 0).astype(float), 1, RECENT_DAYS))
    last_active = age[activity > 0].groupby(usage.account_id[activity > 0]).min()
    out["days_since_last_activity"] = per_account(last_active, history + 1)
    failed = per_account(window_sum(usage.transcriptions_failed.fillna(0).astype(float), 1, 28))
    done = per_account(window_sum(usage.transcriptions_completed.fillna(0).astype(float), 1, 28))
    out["failed_transcription_share_28d"] = np.where(failed + done > 0, failed / np.maximum(failed + done, 1), 0.0)

    limits = inputs.plans.set_index("plan_id")
    plan = cur.loc[out.account_id, "plan_id"].to_numpy()
    scale = 30.0 / max(1.0, min(UTIL_DAYS, history))

    def util(column: str, limit: str) -> np.ndarray:
        used = per_account(window_sum(usage[column].fillna(0).astype(float), 1, UTIL_DAYS)) * scale
        lim = limits[limit].reindex(plan).astype(float).to_numpy()
        return np.where(np.isnan(lim) | (lim <= 0), 0.0, used / np.where(np.isnan(lim), 1, lim))

    storage_last = (usage.dropna(subset=["storage_used_mb"]).sort_values("usage_date")
                    .groupby("account_id").storage_used_mb.last().astype(float))
    lim_storage = limits["limit_storage_mb"].reindex(plan).astype(float).to_numpy()
    storage = per_account(storage_last)
    out["storage_utilization"] = np.where(np.isnan(lim_storage) | (lim_storage <= 0), 0.0,
                                          storage / np.where(np.isnan(lim_storage), 1, lim_storage))
    out["utilization_max_30d"] = np.maximum.reduce([
        util("sessions_created", "limit_sessions"), util("audio_minutes_processed", "limit_audio_minutes"),
        util("exports_generated", "limit_exports"), out["storage_utilization"].to_numpy()])

    signup = inputs.accounts.set_index("account_id").signup_at
    out["tenure_days"] = ((cutoff - out.account_id.map(signup)) / DAY).fillna(0).clip(lower=0).to_numpy()
    paid_all = _paid_rows(subs_seen, inputs.plans)
    first_paid = paid_all.groupby("account_id").started_at.min()
    out["paid_tenure_days"] = ((cutoff - out.account_id.map(first_paid)) / DAY).fillna(0).to_numpy()
    out["plan_tier"] = cur.loc[out.account_id, "tier"].astype(float).to_numpy()
    annual = (cur.loc[out.account_id, "billing_period"] == "annual").to_numpy()
    out["monthly_price"] = np.where(annual, cur.loc[out.account_id, "annual_price_per_month"].astype(float),
                                    cur.loc[out.account_id, "monthly_price"].astype(float))
    out["is_annual"] = annual.astype(float)

    inv = inputs.invoices[(inputs.invoices.issued_at < cutoff)
                          & (inputs.invoices.issued_at >= cutoff - LOOKBACK_DAYS * DAY)]
    out["failed_invoices_90d"] = per_account(inv[inv.status == "failed"].groupby("account_id").size())
    recent_end = subs_seen[subs_seen.ended_at.notna() & (subs_seen.ended_at >= cutoff - LOOKBACK_DAYS * DAY)]
    out["downgrades_90d"] = per_account(recent_end[recent_end.end_reason == "downgrade"]
                                        .groupby("account_id").size())
    out["upgrades_90d"] = per_account(recent_end[recent_end.end_reason == "upgrade"]
                                      .groupby("account_id").size())
    mrr = inputs.mrr
    month_end = mrr.mrr_month + pd.offsets.MonthBegin(1)
    mrr_seen = mrr[(month_end <= cutoff) & (mrr.mrr_month >= cutoff - pd.DateOffset(months=7))]
    out["mrr_contractions_6m"] = per_account(mrr_seen[mrr_seen.movement == "contraction"]
                                             .groupby("account_id").size())
    out["usage_history_days"] = history
    out.insert(1, "cutoff", cutoff)
    return out[["account_id", "cutoff", *FEATURES]]


def build_labels(inputs: ChurnInputs, accounts: pd.Series, cutoff: pd.Timestamp,
                 horizon_days: int = 30) -> np.ndarray:
    """1 when the account churns (subscription churn) in (cutoff, cutoff + horizon]."""
    events = churn_events(inputs.subscriptions, inputs.plans)
    end = cutoff + horizon_days * DAY
    hit = events[(events.churned_at > cutoff) & (events.churned_at <= end)].account_id
    return accounts.isin(set(hit)).astype(int).to_numpy()


def build_snapshots(inputs: ChurnInputs, cutoffs: list[pd.Timestamp], data_horizon: pd.Timestamp,
                    horizon_days: int = 30) -> pd.DataFrame:
    """Features for each cutoff, with `label` (NaN where cutoff + horizon is after the data)."""
    frames = []
    for cutoff in sorted(cutoffs):
        f = build_features(inputs, cutoff)
        if f.empty:
            continue
        if cutoff + horizon_days * DAY <= data_horizon:
            f["label"] = build_labels(inputs, f.account_id, cutoff, horizon_days).astype(float)
        else:
            f["label"] = np.nan
        frames.append(f)
    if not frames:
        return pd.DataFrame(columns=["account_id", "cutoff", *FEATURES, "label"])
    return pd.concat(frames, ignore_index=True)
