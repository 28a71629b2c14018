"""Monthly feature adoption: exports by format, share links, and the share of active accounts
using each feature."""

from __future__ import annotations

import pandas as pd

from reports.catalogue import ReportSpec
from reports.charts import bar_chart, series_chart
from reports.document import Chart, Document, Metric, Table, empty_document
from reports.formatting import format_value
from reports.periods import Period

FORMATS = {"exports_csv": "CSV", "exports_pdf": "PDF", "exports_xlsx": "XLSX", "exports_txt": "TXT"}


def build_feature_adoption(spec: ReportSpec, period: Period, dataset: dict[str, pd.DataFrame]) -> list[Document]:
    features, daily = dataset["features"], dataset["daily"]
    if features.empty:  # no active account in the month
        return [empty_document(spec.id, spec.title, period.label, period.key)]
    summary = [Metric("Active accounts", features["active_accounts"].iloc[0], "integer")]
    summary += [Metric(row.feature, row.pct_of_active_accounts, "percent",
                       f"{format_value(row.accounts_using, 'integer')} accounts using, "
                       f"{format_value(row.total, 'integer')} in total")
                for row in features.itertuples()]
    table = features[["feature", "total", "accounts_using", "pct_of_active_accounts"]].reset_index(drop=True)
    charts = [Chart("Share of active accounts using each feature (%)", bar_chart(
        table["feature"].tolist(), table["pct_of_active_accounts"].astype(float).tolist(), "% of active accounts",
        horizontal=True, height=2.4))]
    if len(daily):
        charts.append(Chart("Exports per day by format", series_chart(
            [f"{d:%d %b}" for d in daily["usage_date"]],
            {label: daily[column].astype(float) for column, label in FORMATS.items()}, "exports")))
    kinds = {"total": "integer", "accounts_using": "integer", "pct_of_active_accounts": "percent"}
    return [Document(spec.id, spec.title, period.label, period.key, None, None, summary=summary,
                     tables=[Table("Feature adoption", table, kinds)], charts=charts,
                     daily_log=Table("Daily exports and share links", daily.reset_index(drop=True),
                                     {c: "integer" for c in daily.columns if c != "usage_date"}),
                     notes=["Active = any session or usage event in the month."])]
