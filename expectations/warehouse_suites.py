"""great-expectations suites for raw inputs and the key marts, run once a day over whole tables.

Quarantine filters bad source rows at ingestion and dbt tests guard each model; these suites are
the cross-check on the outputs reports and BI read. They check what a model produced, never how:
no business rule is computed again here (which movement an account gets, how MRR is normalised
and how the bridge is summed are dbt's, in fct_mrr_monthly and its unit tests). Personal data
stays out of results: owner e-mails are checked in SQL and only a valid/invalid flag reaches GX.

One home per invariant (dbt tests in dbt_project/models/marts/revenue/_revenue.yml and
dbt_project/tests/, GX checks here):
- dbt: keys present and unique (account-month, month, month-plan-currency); `movement` is one of
  the five movements or unchanged (`accepted_values`); the MRR bridge closes and each month starts
  where the last one ended (`assert_mrr_bridge_reconciles`); the classification itself on
  hand-made histories (`unit_tests` of fct_mrr_monthly).
- GX `marts.fct_mrr_monthly`: MRR never negative; previous MRR + change = MRR.
- GX `marts.fct_mrr_monthly:<movement>`: each label agrees with the amounts beside it (new and
  reactivation come from 0, reactivation only after paying before, churn goes to 0, expansion
  up, contraction down, unchanged flat).
- GX `marts.fct_mrr_summary_monthly`: ratios in range (churn rates and GRR in [0, 1], NRR and
  ARPA never negative).
- GX `marts.fct_revenue_monthly`: amounts never negative; parts, statuses and counts add up.
- GX `raw.plans`, `raw.accounts`: the plan catalogue and account owners are well formed.

The report suites (expectations/report_suites.py) check what a report relies on and adds (its
period, its own aggregations), not these invariants again.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from expectations.building_blocks import between, gx_expectations, not_null, unique, zero
from expectations.runner import ExpectationFailure, TableCheck, run_checks
from orchestration.warehouse.frames import read_frame

# The checked assets, known without importing GX (the Dagster definitions list them at load time).
ASSETS: tuple[tuple[str, str], ...] = (("raw", "plans"), ("raw", "accounts"), ("marts", "fct_mrr_monthly"),
                                       ("marts", "fct_mrr_summary_monthly"), ("marts", "fct_revenue_monthly"))

# What each movement label says about the amounts beside it (docs/metrics.md, "Revenue and MRR"):
# (column, low, high, why); amounts are numeric(…, 2), so "> 0" is ">= one cent".
POSITIVE, ZERO = (0.005, None), (0.0, 0.0)
MOVEMENT_AMOUNTS: dict[str, tuple[tuple[str, tuple[float | None, float | None], str], ...]] = {
    "new": (("previous_mrr", ZERO, "a new account had no MRR the month before"),
            ("mrr", POSITIVE, "a new account pays at the month's end")),
    "reactivation": (("previous_mrr", ZERO, "a reactivated account had no MRR the month before"),
                     ("mrr", POSITIVE, "a reactivated account pays at the month's end")),
    "expansion": (("previous_mrr", POSITIVE, "an expanding account paid the month before"),
                  ("mrr_change", POSITIVE, "an expansion raises MRR")),
    "contraction": (("mrr", POSITIVE, "a contracting account still pays"),
                    ("mrr_change", (None, -0.005), "a contraction lowers MRR")),
    "churn": (("previous_mrr", POSITIVE, "a churned account paid the month before"),
              ("mrr", ZERO, "a churned account pays nothing at the month's end")),
    "unchanged": (("mrr_change", ZERO, "an unchanged account's MRR did not move"),),
}


@dataclass(frozen=True)
class WarehouseTable:
    asset: tuple[str, str]  # asset key path: (schema, table)
    query: str
    checks: tuple[TableCheck, ...]


def _is_true(name: str, why: str):
    return gx_expectations().ExpectColumnValuesToBeInSet(column=name, value_set=[True], meta={"why": why})


def _movement_check(movement: str) -> TableCheck:
    """The rows labelled `movement`, against what that label says about their amounts."""
    expectations = [between(column, low, high, why) for column, (low, high), why in MOVEMENT_AMOUNTS[movement]]
    if movement == "reactivation":
        expectations += [gx_expectations().ExpectColumnValuesToNotBeNull(
            column="last_paying_month", meta={"why": "a reactivated account paid in an earlier month"})]
    return TableCheck(f"marts.fct_mrr_monthly:{movement}", ("account_id", "mrr_month"), expectations,
                      derive=lambda d: d["marts.fct_mrr_monthly"].loc[lambda f: f.movement == movement])


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
            SELECT account_id, mrr_month, mrr, previous_mrr, mrr_change, movement, last_paying_month
            FROM marts.fct_mrr_monthly""", (
            TableCheck("marts.fct_mrr_monthly", ("account_id", "mrr_month"), [
                between("mrr", 0, None, "MRR is never negative"),
                zero("change_residual", "previous MRR + change = MRR")],
                derive=lambda d: d["marts.fct_mrr_monthly"].assign(
                    change_residual=lambda f: f.previous_mrr + f.mrr_change - f.mrr)),
            *[_movement_check(movement) for movement in MOVEMENT_AMOUNTS],
        )),
        WarehouseTable(("marts", "fct_mrr_summary_monthly"), """
            SELECT mrr_month, arpa, logo_churn_rate, gross_mrr_churn_rate, nrr, grr
            FROM marts.fct_mrr_summary_monthly""", (
            TableCheck("marts.fct_mrr_summary_monthly", ("mrr_month",), [
                between("logo_churn_rate", 0, 1, "a churn rate is a share of the accounts paying at the start"),
                between("gross_mrr_churn_rate", 0, 1, "gross MRR churn is a share of the starting MRR"),
                between("grr", 0, 1, "gross revenue retention cannot exceed the starting MRR"),
                between("nrr", 0, None, "net revenue retention is never negative"),
                between("arpa", 0, None, "ARPA is never negative")]),
        )),
        WarehouseTable(("marts", "fct_revenue_monthly"), """
            SELECT revenue_month, plan_id, currency, invoices, invoices_paid, invoices_open, invoices_failed,
                   subscription_revenue, overage_revenue, total_revenue, collected_revenue, open_revenue,
                   failed_revenue FROM marts.fct_revenue_monthly""", (
            TableCheck("marts.fct_revenue_monthly", ("revenue_month", "plan_id", "currency"), [
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
