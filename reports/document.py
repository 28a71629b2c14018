"""What a rendered report says, independent of its format.

A report builder turns a dataset into Documents (one per account, or one for an internal
report); every renderer (PDF, CSV, XLSX, TXT) draws the same Document, so the figures in a PDF
and in its spreadsheet cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

NO_DATA = "No data for this period"


@dataclass(frozen=True)
class Metric:
    label: str
    value: float | int | str | None
    kind: str = "number"  # number | integer | money | percent | ratio | text
    note: str = ""  # e.g. "+12.0% vs last month"


@dataclass(frozen=True)
class Table:
    """A titled table; `kinds` maps a column to a Metric kind for formatting (default: as is)."""

    title: str
    frame: pd.DataFrame
    kinds: dict[str, str] = field(default_factory=dict)
    in_pdf: bool = True  # long detail tables belong in CSV/XLSX only


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str  # inline SVG markup, text kept as text


@dataclass(frozen=True)
class Document:
    report_id: str
    title: str
    period_label: str
    period_key: str
    account_id: int | None  # None for internal reports
    account_name: str | None
    summary: list[Metric]
    tables: list[Table] = field(default_factory=list)  # breakdowns
    daily_log: Table | None = None
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    empty: bool = False  # no data for the period: every format says so, nothing else

    @property
    def subject(self) -> str:
        return self.account_name or "All accounts"


def empty_document(report_id: str, title: str, period_label: str, period_key: str,
                   account_id: int | None = None, account_name: str | None = None) -> Document:
    return Document(report_id, title, period_label, period_key, account_id, account_name,
                    summary=[], notes=[NO_DATA], empty=True)
