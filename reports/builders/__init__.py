"""Report builders: one function per catalogue report, dataset -> Documents.

A builder decides what the report says (figures, breakdowns, charts, the daily log) and when
a period has no data; renderers only draw. Adding a report = a catalogue entry, its queries and
a builder registered here.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from reports.builders.acquisition import build_platform_stats, build_user_acquisition
from reports.builders.features import build_feature_adoption
from reports.builders.revenue import build_financial_reconciliation, build_monthly_revenue
from reports.builders.usage import build_usage_summary
from reports.catalogue import ReportSpec
from reports.document import Document
from reports.periods import Period

Builder = Callable[[ReportSpec, Period, dict[str, pd.DataFrame]], list[Document]]

BUILDERS: dict[str, Builder] = {
    "usage_summary": build_usage_summary,
    "monthly_revenue": build_monthly_revenue,
    "platform_stats": build_platform_stats,
    "financial_reconciliation": build_financial_reconciliation,
    "user_acquisition": build_user_acquisition,
    "feature_adoption": build_feature_adoption,
}


def build_documents(spec: ReportSpec, period: Period, dataset: dict[str, pd.DataFrame]) -> list[Document]:
    if spec.id not in BUILDERS:
        raise KeyError(f"report {spec.id!r} is in the catalogue but has no builder in reports/builders")
    missing = [name for name in spec.inputs if name not in dataset]
    if missing:
        raise ValueError(f"report {spec.id}: dataset lacks input tables {missing}")
    return BUILDERS[spec.id](spec, period, dataset)
