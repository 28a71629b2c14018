"""The expectation suites of every report's input dataset: `suite_<id>` for catalogue report <id>.

Each suite checks what the report relies on: the columns it reads, keys present and unique, counts
and amounts never negative, rates within their range, dates inside the report's period, and the
reconciliation totals the report adds — movements by plan add up to the bridge, invoice amounts
add up, invoiced vs modeled differences are exactly the listed difference column, daily detail
adds up to the monthly totals. Invariants of a mart itself have their home with the mart, not
here: that the MRR bridge closes and chains month to month is the dbt test
assert_mrr_bridge_reconciles on fct_mrr_summary_monthly, which the report reads as it is.
An empty period passes (it renders "No data for this period"). Amounts are rounded to cents in
the marts, so sums are compared with a cent-level tolerance.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from expectations.building_blocks import (
    CENT,
    between,
    columns,
    gx_expectations,
    in_period,
    non_negative,
    non_positive,
    not_null,
    rows_at,
    rows_at_most,
    sums_difference,
    unique,
    zero,
)
from expectations.runner import TableCheck
from reports.periods import Period

Suite = Callable[[Period], list[TableCheck]]


# --- derived frames for reconciliations -------------------------------------------------------

def movements_vs_bridge(period: Period) -> Callable[[dict[str, pd.DataFrame]], pd.DataFrame]:
    columns_by_movement = {"new": "new_mrr", "expansion": "expansion_mrr", "contraction": "contraction_mrr",
                           "churn": "churned_mrr", "reactivation": "reactivation_mrr"}

    def derive(dataset: dict[str, pd.DataFrame]) -> pd.DataFrame:
        bridge = rows_at(dataset["mrr_bridge"], "mrr_month", period.start)
        if bridge.empty:
            return pd.DataFrame({"movement": [], "movements_minus_bridge": []})
        sums = dataset["mrr_movements"].groupby("movement")["mrr_change"].sum()
        return pd.DataFrame({
            "movement": list(columns_by_movement),
            "movements_minus_bridge": [float(sums.get(m, 0.0)) - float(bridge[c].iloc[0])
                                       for m, c in columns_by_movement.items()],
        })
    return derive


# --- suites -----------------------------------------------------------------------------------

USAGE = ("sessions_created", "audio_minutes_processed", "transcriptions_completed", "exports_generated", "api_calls",
         "share_links_created")


def suite_usage_summary(period: Period) -> list[TableCheck]:
    additive = {c: c for c in USAGE}
    return [
        TableCheck("accounts", ("account_id",), [
            columns("account_id", "account_name", "plan_id", "plan_name", "is_trial"),
            *not_null("account_id", "account_name", "plan_id"), unique("account_id")]),
        TableCheck("usage_monthly", ("account_id", "usage_month"), [
            columns("account_id", "usage_month", *USAGE, "storage_used_mb"),
            *not_null("account_id", "usage_month"), unique("account_id", "usage_month"),
            in_period("usage_month", period, months_before=1),
            *non_negative(*USAGE, "transcriptions_failed", "share_links_accessed", "storage_used_mb")]),
        TableCheck("usage_daily", ("account_id", "usage_date"), [
            columns("account_id", "usage_date", *USAGE, "storage_used_mb"),
            *not_null("account_id", "usage_date"), unique("account_id", "usage_date"),
            in_period("usage_date", period), *non_negative(*USAGE, "storage_used_mb")]),
        TableCheck("utilization", ("account_id",), [
            columns("account_id", "max_utilization_pct", "is_near_limit"),
            *not_null("account_id"), unique("account_id"),
            *non_negative("limit_audio_minutes", "limit_sessions", "limit_exports", "limit_storage_mb",
                          "audio_minutes_utilization_pct", "sessions_utilization_pct", "exports_utilization_pct",
                          "storage_utilization_pct", "max_utilization_pct")]),
        TableCheck("projections", ("account_id",), [
            *not_null("account_id"),
            *non_negative("projected_audio_minutes", "projected_sessions", "projected_exports",
                          "projected_storage_mb")]),
        TableCheck("usage_daily:sums_vs_usage_monthly", ("account_id",), [
            zero(f"{c}_difference", f"the daily {c} of the month add up to the monthly figure", 0.001)
            for c in USAGE],
            derive=sums_difference("usage_daily", "usage_monthly", ("account_id",), additive,
                                   lambda monthly: rows_at(monthly, "usage_month", period.start))),
    ]


def suite_monthly_revenue(period: Period) -> list[TableCheck]:
    movements = ("new_mrr", "expansion_mrr", "reactivation_mrr")
    losses = ("contraction_mrr", "churned_mrr")
    return [
        TableCheck("mrr_bridge", ("mrr_month",), [
            columns("mrr_month", "starting_mrr", *movements, *losses, "ending_mrr", "arpa", "nrr", "grr"),
            *not_null("mrr_month", "starting_mrr", "ending_mrr"), unique("mrr_month"),
            in_period("mrr_month", period, months_before=11),
            *non_negative("starting_mrr", "ending_mrr", *movements, "paying_customers", "arpa"),
            *non_positive(*losses)]),
        TableCheck("mrr_movements", ("movement", "plan_id"), [
            columns("movement", "plan_id", "accounts", "mrr_change", "ending_mrr"),
            *not_null("movement", "plan_id"), unique("movement", "plan_id"),
            gx_expectations().ExpectColumnValuesToBeInSet(
                column="movement", value_set=["new", "expansion", "contraction", "churn", "reactivation", "unchanged"],
                meta={"why": "the five MRR movements, or unchanged"}),
            *non_negative("accounts", "ending_mrr")]),
        TableCheck("mrr_movements:vs_bridge", ("movement",), [
            zero("movements_minus_bridge", "account movements add up to the bridge's movement column", 5 * CENT)],
            derive=movements_vs_bridge(period)),
        TableCheck("revenue_by_plan", ("plan_id", "currency"), [
            columns("plan_id", "currency", "invoices", "subscription_revenue", "overage_revenue", "total_revenue"),
            *not_null("plan_id", "currency"), unique("plan_id", "currency"),
            *non_negative("invoices", "subscription_revenue", "overage_revenue", "total_revenue",
                          "collected_revenue", "failed_revenue"),
            zero("parts_minus_total", "subscription + overage revenue = total revenue")],
            derive=lambda d: d["revenue_by_plan"].assign(parts_minus_total=(
                d["revenue_by_plan"]["subscription_revenue"] + d["revenue_by_plan"]["overage_revenue"]
                - d["revenue_by_plan"]["total_revenue"]))),
        TableCheck("churn", ("month_start",), [
            rows_at_most(1), in_period("month_start", period),
            *non_negative("paying_accounts_at_month_start", "churned_accounts", "activity_churned_accounts"),
            between("subscription_churn_rate", 0, 1, "a churn rate is a share of the accounts at month start"),
            between("activity_churn_rate", 0, 1, "a churn rate is a share of the accounts at month start"),
            zero("churn_split_residual", "voluntary + involuntary churned accounts = churned accounts", 0)],
            derive=lambda d: d["churn"].assign(churn_split_residual=(
                d["churn"]["voluntary_churned_accounts"] + d["churn"]["involuntary_churned_accounts"]
                - d["churn"]["churned_accounts"]))),
    ]


def _signups_and_funnel(period: Period) -> list[TableCheck]:
    return [
        TableCheck("signups", ("signup_date", "user_type", "acquisition_channel", "country"), [
            columns("signup_date", "user_type", "acquisition_channel", "country", "signups"),
            *not_null("signup_date", "user_type", "acquisition_channel", "country"),
            unique("signup_date", "user_type", "acquisition_channel", "country"),
            in_period("signup_date", period), between("signups", 1, None, "a listed group has signups")]),
        TableCheck("funnel", ("signup_date", "user_type"), [
            columns("signup_date", "user_type", "signups", "activated_accounts", "trial_accounts", "paid_accounts"),
            *not_null("signup_date", "user_type"), unique("signup_date", "user_type"), in_period("signup_date", period),
            *non_negative("activated_accounts", "trial_accounts", "paid_accounts"),
            between("funnel_excess", None, 0, "no funnel stage counts more accounts than signed up")],
            derive=lambda d: d["funnel"].assign(funnel_excess=(
                d["funnel"][["activated_accounts", "trial_accounts", "paid_accounts"]].max(axis=1)
                - d["funnel"]["signups"]))),
        TableCheck("signups:vs_funnel", ("signup_date", "user_type"), [
            zero("signups_difference", "signups by channel and country add up to the funnel's signups", 0)],
            derive=sums_difference("signups", "funnel", ("signup_date", "user_type"), {"signups": "signups"})),
    ]


def suite_platform_stats(period: Period) -> list[TableCheck]:
    counts = ("sessions_created", "audio_minutes_processed", "transcriptions_completed", "transcriptions_failed",
              "exports_generated", "api_calls", "share_links_created", "share_links_accessed")
    return [
        *_signups_and_funnel(period),
        TableCheck("activity", ("usage_date",), [
            columns("usage_date", "accounts", "active_accounts", *counts),
            *not_null("usage_date"), unique("usage_date"), in_period("usage_date", period),
            *non_negative("accounts", "active_accounts", *counts),
            between("inactive_accounts", 0, None, "active accounts are a subset of all accounts")],
            derive=lambda d: d["activity"].assign(
                inactive_accounts=d["activity"]["accounts"] - d["activity"]["active_accounts"])),
    ]


def suite_user_acquisition(period: Period) -> list[TableCheck]:
    return _signups_and_funnel(period)


def suite_financial_reconciliation(period: Period) -> list[TableCheck]:
    return [
        TableCheck("reconciliation", ("plan_id",), [
            columns("plan_id", "invoiced_total", "modeled_mrr", "modeled_overage", "modeled_total", "difference"),
            *not_null("plan_id"), unique("plan_id"),
            *non_negative("invoices", "invoiced_subscription", "invoiced_overage", "invoiced_total",
                          "paying_accounts", "modeled_mrr", "modeled_overage"),
            zero("invoiced_parts_residual", "invoiced subscription + overage = invoiced total"),
            zero("modeled_parts_residual", "modeled MRR + modeled overage = modeled total"),
            zero("difference_residual", "every invoiced-vs-modeled difference is listed: difference = invoiced "
                                        "total - modeled total"),
        ], derive=lambda d: d["reconciliation"].assign(
            invoiced_parts_residual=(d["reconciliation"]["invoiced_subscription"]
                                     + d["reconciliation"]["invoiced_overage"] - d["reconciliation"]["invoiced_total"]),
            modeled_parts_residual=(d["reconciliation"]["modeled_mrr"] + d["reconciliation"]["modeled_overage"]
                                    - d["reconciliation"]["modeled_total"]),
            difference_residual=(d["reconciliation"]["invoiced_total"] - d["reconciliation"]["modeled_total"]
                                 - d["reconciliation"]["difference"]))),
        TableCheck("invoice_status", ("plan_id", "currency"), [
            columns("plan_id", "currency", "invoices", "invoices_paid", "invoices_open", "invoices_failed",
                    "total_revenue", "collected_revenue", "open_revenue", "failed_revenue"),
            *not_null("plan_id", "currency"), unique("plan_id", "currency"),
            *non_negative("invoices", "invoices_paid", "invoices_open", "invoices_failed", "total_revenue",
                          "collected_revenue", "open_revenue", "failed_revenue"),
            zero("status_count_residual", "paid + open + failed invoices = invoices", 0),
            zero("status_amount_residual", "collected + open + failed revenue = total revenue")],
            derive=lambda d: d["invoice_status"].assign(
                status_count_residual=(d["invoice_status"][["invoices_paid", "invoices_open", "invoices_failed"]]
                                       .sum(axis=1) - d["invoice_status"]["invoices"]),
                status_amount_residual=(d["invoice_status"][["collected_revenue", "open_revenue", "failed_revenue"]]
                                        .sum(axis=1) - d["invoice_status"]["total_revenue"]))),
        TableCheck("reconciliation:vs_invoice_status", (), [
            zero("invoiced_total_difference", "the reconciliation's invoiced total equals the invoices' total")],
            derive=sums_difference("reconciliation", "invoice_status", (), {"invoiced_total": "total_revenue"})),
    ]


def suite_feature_adoption(period: Period) -> list[TableCheck]:
    exports = ("exports_csv", "exports_pdf", "exports_xlsx", "exports_txt")
    features_by_column = {"exports_csv": "CSV exports", "exports_pdf": "PDF exports", "exports_xlsx": "XLSX exports",
                          "exports_txt": "TXT exports", "share_links_created": "Share links created",
                          "share_links_accessed": "Share links accessed"}

    def daily_vs_features(dataset: dict[str, pd.DataFrame]) -> pd.DataFrame:
        totals = dataset["features"].set_index("feature")["total"] if len(dataset["features"]) else pd.Series()
        daily = dataset["daily"]
        return pd.DataFrame({
            "feature": list(features_by_column.values()),
            "daily_minus_monthly": [float(daily[c].sum()) - float(totals.get(f, 0.0))
                                    for c, f in features_by_column.items()],
        })

    return [
        TableCheck("features", ("feature",), [
            columns("feature", "total", "accounts_using", "active_accounts", "pct_of_active_accounts"),
            *not_null("feature", "total", "accounts_using"), unique("feature"),
            *non_negative("total", "accounts_using", "active_accounts"),
            between("pct_of_active_accounts", 0, 100, "a share of active accounts, in percent")]),
        TableCheck("daily", ("usage_date",), [
            columns("usage_date", *exports, "share_links_created", "share_links_accessed"),
            *not_null("usage_date"), unique("usage_date"), in_period("usage_date", period),
            *non_negative(*exports, "share_links_created", "share_links_accessed")]),
        TableCheck("daily:vs_features", ("feature",), [
            zero("daily_minus_monthly", "the daily figures add up to the month's feature totals", 0.001)],
            derive=daily_vs_features),
    ]


# The suite of report <id> is the function suite_<id> above (found by name, like the builders;
# tests/test_report_declarations.py requires one per catalogue report and none for a report not in it).
SUITES: dict[str, Suite] = {name.removeprefix("suite_"): suite for name, suite in list(globals().items())
                            if name.startswith("suite_") and callable(suite)}
