"""great-expectations suites for raw inputs and the key marts, run once a day over whole tables.

Quarantine filters bad source rows at ingestion and dbt tests guard each model; these suites are
the cross-check on the tables reports and BI read: the plan catalogue and account owners (raw),
MRR per account-month (every movement consistent with the amounts), the MRR bridge (closes and
chains month to month) and invoiced revenue (parts add up). Personal data stays out of results:
owner e-mails are checked in SQL and only a valid/invalid flag reaches GX and the metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from expectations.building_blocks import between, gx_expectations, not_null, unique, zero
from expectations.runner import ExpectationFailure, TableCheck, run_checks
from orchestration.warehouse.frames import read_frame

MOVEMENTS = ["new", "expansion", "contraction", "churn", "reactivation", "unchanged"]
# The checked assets, known without importing GX (the Dagster definitions list them at load time).
ASSETS: tuple[tuple[str, str], ...] = (("raw", "plans"), ("raw", "accounts"), ("marts", "fct_mrr_monthly"),
                                       ("marts", "fct_mrr_summary_monthly"), ("marts", "fct_revenue_monthly"))


@dataclass(frozen=True)
class WarehouseTable:
    asset: tuple[str, str]  # asset key path: (schema, table)
    query: str
    checks: tuple[TableCheck, ...]


def _is_true(name: str, why: str):
    return gx_expectations().ExpectColumnValuesToBeInSet(column=name, value_set=[True], meta={"why": why})


def _movement_consistent(frame: pd.DataFrame) -> pd.Series:
    prev, mrr, change, move = frame.previous_mrr, frame.mrr, frame.mrr_change, frame.movement
    expected = pd.Series("unchanged", index=frame.index)
    expected[(prev == 0) & (mrr > 0)] = "new|reactivation"
    expected[(prev > 0) & (mrr == 0)] = "churn"
    expected[(prev > 0) & (mrr > 0) & (change > 0)] = "expansion"
    expected[(prev > 0) & (mrr > 0) & (change < 0)] = "contraction"
    return pd.Series([m in e.split("|") for m, e in zip(move, expected)], index=frame.index)


def tables() -> list[WarehouseTable]:
    gxe = gx_expectations()
    return [
        WarehouseTable(("raw", "plans"), """
            SELECT plan_id, tier, monthly_price, annual_price, limit_audio_minutes, limit_sessions,
                   limit_storage_mb, limit_exports, overage_audio_minute_price, overage_session_price,
                   overage_storage_mb_price, overage_export_price, trial_days FROM raw.plans""", (
            TableCheck("raw.plans", ("plan_id",), [
                *not_null("plan_id"), unique("plan_id"),
                *[between(c, 0, None, f"{c} is never negative") for c in (
                    "monthly_price", "annual_price", "limit_audio_minutes", "limit_sessions", "limit_storage_mb",
                    "limit_exports", "overage_audio_minute_price", "overage_session_price",
                    "overage_storage_mb_price", "overage_export_price")],
                between("trial_days", 0, 365, "a trial lasts between 0 and 365 days")]),
        )),
        WarehouseTable(("raw", "accounts"), """
            SELECT account_id, country, user_type, acquisition_channel, signup_at,
                   CASE WHEN owner_email IS NULL THEN NULL
                        ELSE owner_email ~ '^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$' END
                       AS owner_email_is_valid
            FROM raw.accounts""", (
            TableCheck("raw.accounts", ("account_id",), [
                *not_null("account_id", "country", "user_type", "acquisition_channel", "signup_at"),
                unique("account_id"),
                gxe.ExpectColumnValueLengthsToEqual(column="country", value=2,
                                                    meta={"why": "country is an ISO 3166 alpha-2 code"}),
                _is_true("owner_email_is_valid", "an owner e-mail, when present, is deliverable (per-account "
                                                 "reports are sent to it)")]),
        )),
        WarehouseTable(("marts", "fct_mrr_monthly"), """
            SELECT account_id, mrr_month, mrr, previous_mrr, mrr_change, movement FROM marts.fct_mrr_monthly""", (
            TableCheck("marts.fct_mrr_monthly", ("account_id", "mrr_month"), [
                *not_null("account_id", "mrr_month", "mrr", "previous_mrr", "movement"),
                unique("account_id", "mrr_month"),
                between("mrr", 0, None, "MRR is never negative"),
                gxe.ExpectColumnValuesToBeInSet(column="movement", value_set=MOVEMENTS,
                                                meta={"why": "the five MRR movements, or unchanged"}),
                zero("change_residual", "previous MRR + change = MRR"),
                _is_true("movement_consistent", "the movement matches the amounts (new/reactivation from 0, "
                                                "churn to 0, expansion up, contraction down)")],
                derive=lambda d: d["marts.fct_mrr_monthly"].assign(
                    change_residual=lambda f: f.previous_mrr + f.mrr_change - f.mrr,
                    movement_consistent=_movement_consistent)),
        )),
        WarehouseTable(("marts", "fct_mrr_summary_monthly"), """
            SELECT mrr_month, starting_mrr, new_mrr, expansion_mrr, contraction_mrr, churned_mrr,
                   reactivation_mrr, ending_mrr FROM marts.fct_mrr_summary_monthly ORDER BY mrr_month""", (
            TableCheck("marts.fct_mrr_summary_monthly", ("mrr_month",), [
                *not_null("mrr_month", "starting_mrr", "ending_mrr"), unique("mrr_month"),
                zero("bridge_residual", "starting MRR + movements = ending MRR", 0.055),
                zero("start_minus_previous_end", "each month starts with the previous month's ending MRR")],
                derive=lambda d: d["marts.fct_mrr_summary_monthly"].assign(
                    bridge_residual=lambda f: f[["starting_mrr", "new_mrr", "expansion_mrr", "contraction_mrr",
                                                 "churned_mrr", "reactivation_mrr"]].sum(axis=1) - f.ending_mrr,
                    start_minus_previous_end=lambda f: (f.starting_mrr - f.ending_mrr.shift(1)).where(
                        pd.to_datetime(f.mrr_month.shift(1)) + pd.DateOffset(months=1)
                        == pd.to_datetime(f.mrr_month)))),
        )),
        WarehouseTable(("marts", "fct_revenue_monthly"), """
            SELECT revenue_month, plan_id, currency, invoices, invoices_paid, invoices_open, invoices_failed,
                   subscription_revenue, overage_revenue, total_revenue, collected_revenue, open_revenue,
                   failed_revenue FROM marts.fct_revenue_monthly""", (
            TableCheck("marts.fct_revenue_monthly", ("revenue_month", "plan_id", "currency"), [
                *not_null("revenue_month", "plan_id", "currency"), unique("revenue_month", "plan_id", "currency"),
                *[between(c, 0, None, f"{c} is never negative") for c in (
                    "invoices", "subscription_revenue", "overage_revenue", "total_revenue")],
                zero("parts_residual", "subscription + overage revenue = total revenue"),
                zero("status_residual", "collected + open + failed revenue = total revenue"),
                zero("count_residual", "paid + open + failed invoices = invoices", 0)],
                derive=lambda d: d["marts.fct_revenue_monthly"].assign(
                    parts_residual=lambda f: f.subscription_revenue + f.overage_revenue - f.total_revenue,
                    status_residual=lambda f: f.collected_revenue + f.open_revenue + f.failed_revenue
                    - f.total_revenue,
                    count_residual=lambda f: f.invoices_paid + f.invoices_open + f.invoices_failed - f.invoices)),
        )),
    ]


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    for column in frame.columns:
        values = frame[column].dropna()
        if len(values) and isinstance(values.iloc[0], Decimal):
            frame[column] = frame[column].astype(float)
    return frame


def validate_warehouse(url: str, assets: set[tuple[str, str]] | None = None
                       ) -> dict[tuple[str, str], tuple[list[ExpectationFailure], int]]:
    """Each table's failures and number of expectations evaluated, keyed by asset path."""
    results = {}
    for table in tables():
        if assets is not None and table.asset not in assets:
            continue
        name = ".".join(table.asset)
        dataset = {name: _numeric(read_frame(url, table.query))}
        results[table.asset] = run_checks(name.replace(".", "_"), table.checks, dataset)
    return results
