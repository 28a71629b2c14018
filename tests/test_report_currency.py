"""Customer-facing figures read right in every format: amounts carry their currency, CSV numbers
are rounded to their column's precision, utilization over a plan's limit is said in words with
the day it was crossed, and an early-month projection says how many days it rests on.

Documents come from the real builders and renderers on small hand-made datasets (no warehouse)."""

from __future__ import annotations

import io
import re

import openpyxl
import pandas as pd
from pypdf import PdfReader

from reports.builders.usage import build_usage_summary
from reports.catalogue import load_catalogue
from reports.document import Document, Metric, Table
from reports.periods import period_for
from reports.render_pdf import render_pdf
from reports.render_tabular import read_sectioned_csv, render_csv, render_xlsx
from reports.render_txt import render_txt
from tests.test_pdf_scripts import usage_dataset

FEB = period_for("monthly", "2026-02-01")


def revenue_document() -> Document:
    """Amounts whose sums carry float noise and sub-cent digits."""
    by_plan = pd.DataFrame({"plan_id": ["pro", "team"], "mrr": [1234.5 + 0.1 + 0.2, -35069.332 + 1e-11],
                            "accounts": [3, 4], "utilization_pct": [12.3456, 99.99]})
    return Document("monthly_revenue", "Monthly revenue report", "February 2026", "2026-02-01", None, None,
                    summary=[Metric("Ending MRR", 98765.4321, "money"), Metric("Paying customers", 7, "integer")],
                    tables=[Table("MRR by plan", by_plan, {"mrr": "money", "accounts": "integer",
                                                           "utilization_pct": "percent"})])


def pdf_text(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))


def test_pdf_amounts_carry_their_currency():
    text = pdf_text(render_pdf(revenue_document()))
    assert "USD 98,765.43" in text
    assert "MRR (USD)" in text and "-35,069.33" in text and "1,234.80" in text


def test_txt_amounts_carry_their_currency():
    text = render_txt(revenue_document()).decode()
    assert re.search(r"^Ending MRR\s+USD 98,765.43$", text, re.M)
    assert "MRR (USD)" in text and "-35,069.33" in text


def test_csv_amounts_have_a_currency_column_and_column_precision():
    sections = read_sectioned_csv(render_csv(revenue_document()))
    summary = sections["Summary metrics"].set_index("metric")
    assert summary.loc["Ending MRR", ["value", "currency"]].tolist() == ["98765.43", "USD"]
    assert summary.loc["Paying customers", ["value", "currency"]].tolist() == ["7", ""]
    plans = sections["MRR by plan"]
    assert list(plans.columns) == ["plan_id", "mrr", "accounts", "utilization_pct", "currency"]
    assert plans.mrr.tolist() == ["1234.8", "-35069.33"] and set(plans.currency) == {"USD"}
    assert plans.utilization_pct.tolist() == ["12.35", "99.99"]  # percent: two decimals, as the marts keep it


def test_a_table_with_its_own_currency_column_keeps_it():
    invoices = pd.DataFrame({"plan_id": ["pro"], "currency": ["EUR"], "total_revenue": [10.005]})
    document = Document("x", "X", "February 2026", "2026-02-01", None, None, summary=[],
                        tables=[Table("Revenue by plan", invoices, {"total_revenue": "money"})])
    plans = read_sectioned_csv(render_csv(document))["Revenue by plan"]
    assert list(plans.columns) == ["plan_id", "currency", "total_revenue"] and plans.currency[0] == "EUR"
    assert "Total revenue (USD)" not in render_txt(document).decode()


def test_xlsx_amounts_have_a_currency_column_and_column_precision():
    workbook = openpyxl.load_workbook(io.BytesIO(render_xlsx(revenue_document())))
    summary = workbook["Summary"]
    assert [c.value for c in summary[1]] == ["metric", "value", "currency", "note"]
    assert [c.value for c in summary[2]][:3] == ["Ending MRR", 98765.43, "USD"]
    plans = workbook["MRR by plan"]
    assert [c.value for c in plans[1]][-1] == "currency"
    assert [c.value for c in plans[3]] == ["team", -35069.33, 4, 99.99, "USD"]
    assert plans["B2"].value == 1234.8 and plans["D2"].value == 12.35


def usage_document(**dataset_options) -> Document:
    spec = load_catalogue()["usage_summary"]
    documents = build_usage_summary(spec, FEB, usage_dataset("Acme Audio", **dataset_options))
    return documents[0]


def test_utilization_over_the_limit_is_said_in_words_with_the_day_it_was_crossed():
    # 100 audio minutes a day against a 120-minute limit: the running total passes it on Feb 2.
    document = usage_document(audio_per_day=100.0, projection_days=2)
    limits = next(t for t in document.tables if t.title == "Usage vs plan limits").frame.set_index("metric")
    assert limits.loc["Audio minutes", "status"] == "over your plan's limit since 2026-02-02"
    assert pd.isna(limits.loc["Audio minutes", "utilization_pct"])
    assert limits.loc["Sessions", "status"] == "within your plan's limit"
    text = pdf_text(render_pdf(document))
    assert "over your plan's limit since 2026-02-02" in text
    assert "250.0%" not in text and "2,583.3%" not in text  # 300/120 used, 3,100/120 projected
    assert "over your plan's limit since 2026-02-02" in render_txt(document).decode()


def test_an_early_projection_says_what_it_rests_on():
    text = pdf_text(render_pdf(usage_document(projection_days=2)))
    assert "based on 2 days of data, so it can still change a lot." in text
    later = render_txt(usage_document(projection_days=20)).decode()
    assert "based on 20 days of data." in later


def test_within_the_limit_the_percentage_stays():
    document = usage_document(audio_per_day=12.5)
    limits = next(t for t in document.tables if t.title == "Usage vs plan limits").frame.set_index("metric")
    assert limits.loc["Audio minutes", "utilization_pct"] == round(100 * 3 * 12.5 / 120, 1)
    assert limits.loc["Audio minutes", "status"] == "within your plan's limit"
