"""The monthly revenue report (MRR bridge, revenue by plan, churn, ARPA) and the financial
reconciliation (invoiced vs modeled revenue, differences listed)."""

from __future__ import annotations

import pandas as pd

from reports.catalogue import ReportSpec
from reports.charts import series_chart, waterfall_chart
from reports.document import Chart, Document, Metric, Table, empty_document
from reports.periods import Period

BRIDGE = [("starting_mrr", "Starting MRR"), ("new_mrr", "New"), ("expansion_mrr", "Expansion"),
          ("contraction_mrr", "Contraction"), ("churned_mrr", "Churned"), ("reactivation_mrr", "Reactivation"),
          ("ending_mrr", "Ending MRR")]
TOLERANCE = 0.005  # a difference under half a cent is rounding


def _total(frame: pd.DataFrame, column: str) -> float:
    return float(frame[column].fillna(0).sum()) if len(frame) else 0.0


def build_monthly_revenue(spec: ReportSpec, period: Period, dataset: dict[str, pd.DataFrame]) -> list[Document]:
    history = dataset["mrr_bridge"]
    month = history[history["mrr_month"] == period.start]
    revenue = dataset["revenue_by_plan"]
    if month.empty and revenue.empty:
        return [empty_document(spec.id, spec.title, period.label, period.key)]
    summary: list[Metric] = []
    tables: list[Table] = []
    charts: list[Chart] = []
    if not month.empty:
        row = month.iloc[0]
        summary += [Metric(label, row[column], "money") for column, label in BRIDGE]
        summary += [Metric("ARR", row["arr"], "money"),
                    Metric("Paying customers", row["paying_customers"], "integer"),
                    Metric("ARPA", row["arpa"], "money"),
                    Metric("Logo churn rate", row["logo_churn_rate"], "ratio"),
                    Metric("Net revenue retention", row["nrr"], "ratio")]
        bridge = pd.DataFrame([{"component": label, "mrr": row[column]} for column, label in BRIDGE])
        tables.append(Table("MRR bridge", bridge, {"mrr": "money"}))
        charts.append(Chart("MRR bridge", waterfall_chart(
            [(label, float(row[column])) for column, label in BRIDGE], "MRR")))
    summary.append(Metric("Invoiced revenue", _total(revenue, "total_revenue"), "money"))
    churn = dataset["churn"]
    if not churn.empty:
        c = churn.iloc[0]
        summary += [Metric("Subscription churn rate", c["subscription_churn_rate"], "ratio"),
                    Metric("Activity churn rate", c["activity_churn_rate"], "ratio")]
        tables.append(Table("Churn", pd.DataFrame([
            {"measure": "Paying accounts at month start", "value": c["paying_accounts_at_month_start"]},
            {"measure": "Subscription churned accounts", "value": c["churned_accounts"]},
            {"measure": "  voluntary", "value": c["voluntary_churned_accounts"]},
            {"measure": "  involuntary", "value": c["involuntary_churned_accounts"]},
            {"measure": "Active accounts before month start", "value": c["active_accounts_before_month_start"]},
            {"measure": "Activity churned accounts", "value": c["activity_churned_accounts"]},
        ]), {"value": "integer"}))
    tables.append(Table("Revenue by plan", revenue.reset_index(drop=True),
                        {c: "money" for c in revenue.columns if c.endswith("revenue")} | {"invoices": "integer"}))
    movements = dataset["mrr_movements"]
    tables.append(Table("MRR movements by plan", movements.reset_index(drop=True),
                        {"accounts": "integer", "mrr_change": "money", "ending_mrr": "money"}))
    if len(history) > 1:
        charts.append(Chart("Ending MRR, last 12 months", series_chart(
            [f"{m:%b %Y}" for m in history["mrr_month"]], {"Ending MRR": history["ending_mrr"].astype(float)},
            "MRR")))
    trend = history[["mrr_month", "starting_mrr", "new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr",
                     "reactivation_mrr", "ending_mrr", "paying_customers", "arpa"]].reset_index(drop=True)
    tables.append(Table("MRR history", trend, {c: "money" for c in trend.columns if c.endswith("mrr") or c == "arpa"}
                        | {"paying_customers": "integer"}, in_pdf=False))
    notes = ["MRR is measured at the month's end instant; revenue is invoiced (any payment status)."]
    return [Document(spec.id, spec.title, period.label, period.key, None, None, summary=summary, tables=tables,
                     charts=charts, notes=notes)]


def differences(reconciliation: pd.DataFrame) -> pd.DataFrame:
    """The plans whose invoiced and modeled revenue differ by more than rounding."""
    if reconciliation.empty:
        return reconciliation
    return reconciliation[reconciliation["difference"].abs() > TOLERANCE].reset_index(drop=True)


def build_financial_reconciliation(spec: ReportSpec, period: Period, dataset: dict[str, pd.DataFrame]
                                   ) -> list[Document]:
    rec = dataset["reconciliation"]
    if rec.empty:
        return [empty_document(spec.id, spec.title, period.label, period.key)]
    diff = differences(rec)
    invoiced, modeled = _total(rec, "invoiced_total"), _total(rec, "modeled_total")
    summary = [
        Metric("Invoiced revenue", invoiced, "money"),
        Metric("Modeled revenue", modeled, "money"),
        Metric("Difference (invoiced - modeled)", invoiced - modeled, "money"),
        Metric("Plans with a difference", len(diff), "integer"),
        Metric("Invoices", _total(rec, "invoices"), "integer"),
    ]
    money = {c: "money" for c in rec.columns if c.startswith(("invoiced", "modeled")) or c == "difference"}
    money |= {"invoices": "integer", "paying_accounts": "integer"}
    compact = ["plan_id", "invoiced_total", "modeled_mrr", "modeled_overage", "modeled_total", "difference"]
    tables = [
        Table("Differences", diff[compact] if len(diff) else pd.DataFrame(columns=compact), money),
        Table("Reconciliation by plan", rec.reset_index(drop=True), money),
        Table("Invoices by status", dataset["invoice_status"].reset_index(drop=True),
              {c: "integer" for c in dataset["invoice_status"].columns if c.startswith("invoices")}
              | {c: "money" for c in dataset["invoice_status"].columns if c.endswith("revenue")}),
    ]
    chart = Chart("Invoiced vs modeled revenue by plan", series_chart(
        rec["plan_id"].tolist(), {"Invoiced": rec["invoiced_total"].astype(float),
                                  "Modeled": rec["modeled_total"].astype(float)}, "revenue", stacked=False))
    notes = ["Modeled revenue = MRR at the month's end by plan + overage implied by the previous month's usage. "
             "Annual invoices (a whole year on the issue day), proration and renewals on anniversaries explain "
             "most differences; amounts are never converted between currencies."]
    return [Document(spec.id, spec.title, period.label, period.key, None, None, summary=summary, tables=tables,
                     charts=[chart], notes=notes)]
