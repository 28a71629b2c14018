"""Pure parts of the reports: catalogue validation, periods, file names, manifest and data hash,
sectioned CSV, and rendering without the network. No warehouse needed."""

from __future__ import annotations

import io
import json
import re
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from pypdf import PdfReader

from reports.artifacts import Artifact, account_slug, artifact_name, build_manifest, slugify, write_period
from reports.catalogue import CatalogueError, expand_recipients, load_catalogue, parse_catalogue
from reports.datasets import data_hash
from reports.document import Document, Metric, Table, empty_document
from reports.periods import latest_complete_period, period_for
from reports.render_pdf import TEMPLATES_DIR, html_to_pdf, render_html
from reports.render_tabular import read_sectioned_csv, render_csv, render_xlsx
from reports.render_txt import render_txt

HOSTILE = "../../etc/passwd \\ \"quoted\" 'single' <b>Zoë</b> 東京 =SUM(A1) " + "ж" * 300


def sample_document(**overrides) -> Document:
    fields = dict(
        report_id="usage_summary", title="Monthly usage summary", period_label="February 2026",
        period_key="2026-02-01", account_id=7, account_name="Acme Audio",
        summary=[Metric("Audio minutes", 1234.5, "number", "up 3.0% vs last month"),
                 Metric("Sessions", 42, "integer"), Metric("Note", "-starts like a formula", "text")],
        tables=[Table("Usage vs plan limits", pd.DataFrame({"metric": ["Sessions"], "used": [42],
                                                            "utilization_pct": [84.0]}),
                      {"used": "integer", "utilization_pct": "percent"})],
        daily_log=Table("Daily usage", pd.DataFrame({"usage_date": [date(2026, 2, 1), date(2026, 2, 2)],
                                                     "sessions_created": [2, 40],
                                                     "audio_minutes_processed": [10.25, None]})),
    )
    return Document(**{**fields, **overrides})


def test_the_catalogue_declares_the_six_reports():
    catalogue = load_catalogue()
    assert {"usage_summary", "monthly_revenue", "platform_stats", "financial_reconciliation",
            "user_acquisition", "feature_adoption"} <= set(catalogue)
    assert catalogue["usage_summary"].audience == "account"
    assert {s.schedule for s in catalogue.values()} == {"daily", "weekly", "monthly"}


@pytest.mark.parametrize("entry, message", [
    ({"id": "Bad Id"}, "id must match"),
    ({"id": "x", "title": "X", "audience": "everyone"}, "report 'x': audience"),
    ({"id": "x", "title": "X", "audience": "internal", "schedule": "daily", "formats": ["pdf", "docx"],
      "inputs": ["rpt_shared__signups"], "recipients": ["a@example.org"]}, "unknown formats ['docx']"),
    ({"id": "x", "title": "X", "audience": "internal", "schedule": "daily", "formats": ["pdf"],
      "inputs": ["rpt_x__no_such_table"], "recipients": ["a@example.org"]},
     "input 'rpt_x__no_such_table' has no dbt model"),
    ({"id": "x", "title": "X", "audience": "internal", "schedule": "daily", "formats": ["pdf"],
      "inputs": ["rpt_shared__signups"]}, "needs recipients"),
    ({"id": "x", "title": "X", "audience": "internal", "schedule": "daily", "formats": ["pdf"],
      "inputs": ["rpt_shared__signups"], "recipients": ["a@example.org"], "colour": "red"},
     "unknown fields ['colour']"),
])
def test_a_bad_catalogue_entry_is_named(entry, message):
    with pytest.raises(CatalogueError, match=re.escape(message)):
        parse_catalogue({"reports": [entry]})


def test_recipients_expand_from_the_environment():
    env = {"REPORT_INTERNAL_RECIPIENTS": "ops@example.org, cfo@example.org"}
    assert expand_recipients(("${REPORT_INTERNAL_RECIPIENTS}", "ops@example.org"), env) == \
        ("ops@example.org", "cfo@example.org")
    assert expand_recipients(("${REPORT_INTERNAL_RECIPIENTS}",), {}) == ()


def test_periods_are_half_open_and_validated():
    assert period_for("monthly", "2026-02-01").end == date(2026, 3, 1)
    assert period_for("monthly", "2026-12-01").end == date(2027, 1, 1)
    assert period_for("weekly", "2026-03-02").end == date(2026, 3, 9)
    assert period_for("monthly", "2026-03-01").previous().start == date(2026, 2, 1)
    with pytest.raises(ValueError, match="starts on the 1st"):
        period_for("monthly", "2026-02-03")
    with pytest.raises(ValueError, match="Monday"):
        period_for("weekly", "2026-03-03")
    with pytest.raises(ValueError, match="not a date"):
        period_for("daily", "yesterday")
    today = date(2026, 3, 4)  # a Wednesday
    assert latest_complete_period("daily", today).key == "2026-03-03"
    assert latest_complete_period("weekly", today).key == "2026-02-23"
    assert latest_complete_period("monthly", today).key == "2026-02-01"


def test_hostile_account_names_give_safe_unique_file_names():
    name = artifact_name("usage_summary", 42, HOSTILE, date(2026, 2, 1), "pdf")
    assert re.fullmatch(r"usage_summary_[a-z0-9-]+-42_20260201\.pdf", name)
    assert len(name) <= 100 and "/" not in name and ".." not in name
    assert account_slug(1, "東京") == "account-1"  # nothing ASCII survives
    assert account_slug(2, "Zoë's Café") == "zoe-s-cafe-2"
    assert account_slug(None, None) == "platform"
    assert account_slug(3, "Acme") != account_slug(4, "Acme")
    assert slugify("a" * 500) == "a" * 60
    with pytest.raises(ValueError):
        artifact_name("../evil", 1, "x", date(2026, 2, 1), "pdf")


def test_data_hash_is_stable_and_sensitive():
    one = {"b": pd.DataFrame({"x": [1, 2]}), "a": pd.DataFrame({"y": [0.5, None]})}
    same = {"a": pd.DataFrame({"y": [0.5, None]}), "b": pd.DataFrame({"x": [1, 2]})}
    changed = {"a": pd.DataFrame({"y": [0.5, None]}), "b": pd.DataFrame({"x": [1, 3]})}
    assert data_hash(one) == data_hash(same) != data_hash(changed)


def test_manifest_and_folder_are_replaced_whole(tmp_path: Path):
    files = [Artifact("r_platform_20260201.csv", "csv", None, b"a,b\n")]
    manifest = build_manifest("r", "R", "2026-02-01", date(2026, 2, 1), date(2026, 3, 1), ("csv",), {"t": 1},
                              "abc", {"marts/x": None}, files)
    assert manifest["files"][0]["sha256"] == files[0].sha256 and manifest["input_row_counts"] == {"t": 1}
    folder = write_period(tmp_path, "r", "2026-02-01", files, manifest)
    (folder / "leftover.pdf").write_bytes(b"old")
    write_period(tmp_path, "r", "2026-02-01", files, manifest)
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "r_platform_20260201.csv"]
    assert json.loads((folder / "manifest.json").read_text()) == manifest
    assert [p.name for p in (tmp_path / "r").iterdir()] == ["2026-02-01"]


def test_sectioned_csv_round_trips():
    document = sample_document(account_name="=HYPERLINK(\"http://x\")")
    content = render_csv(document)
    assert content.startswith("\ufeff".encode())
    sections = read_sectioned_csv(content)
    assert list(sections) == ["Report", "Summary metrics", "Usage vs plan limits", "Daily log: Daily usage"]
    report = dict(zip(sections["Report"].field, sections["Report"].value))
    assert report["Account"] == "=HYPERLINK(\"http://x\")"
    assert "'=HYPERLINK" in content.decode("utf-8-sig")  # inert in a spreadsheet
    summary = sections["Summary metrics"]
    assert summary.value.tolist() == ["1234.5", "42", "-starts like a formula"]
    log = sections["Daily log: Daily usage"]
    assert log.to_dict("list") == {"usage_date": ["2026-02-01", "2026-02-02"], "sessions_created": ["2", "40"],
                                   "audio_minutes_processed": ["10.25", ""]}
    empty = read_sectioned_csv(render_csv(empty_document("r", "R", "Feb", "2026-02-01")))
    assert empty["Summary metrics"].iloc[0, 0] == "No data for this period"


def test_xlsx_keeps_numbers_as_numbers_and_styles_the_header():
    content = render_xlsx(sample_document(account_name="=1+1"))
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    assert workbook.sheetnames == ["Summary", "Usage vs plan limits", "Daily log", "Report"]
    log = workbook["Daily log"]
    assert log.freeze_panes == "A2" and log["A1"].font.bold and log["A1"].fill.fgColor.rgb.endswith("1D3F6E")
    assert log["B3"].value == 40 and log["C2"].value == 10.25 and log["C3"].value is None
    assert log["A2"].is_date
    assert log.column_dimensions["C"].width >= len("audio_minutes_processed")
    assert workbook["Report"]["B2"].value == "=1+1" and workbook["Report"]["B2"].data_type == "s"
    assert render_xlsx(sample_document()) == render_xlsx(sample_document())  # byte-identical re-render


def test_txt_and_pdf_show_the_same_figures():
    document = sample_document()
    text = render_txt(document).decode()
    pdf, pages = html_to_pdf(render_html(document))
    pdf_text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    for figure in ["1,234.50", "42", "84.0%", "up 3.0% vs last month"]:
        assert figure in text and figure in pdf_text
    assert pages == 1 and "Page 1 of 1" in pdf_text


class _Recorder(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        _Recorder.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body { color: red }")

    def log_message(self, *args):
        pass


def test_rendering_never_touches_the_network(tmp_path: Path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        template = (TEMPLATES_DIR / "report.html.j2").read_text().replace(
            "</head>", f'<link rel="stylesheet" href="{base}/style.css">'
                       f'<style>@import url("{base}/import.css"); body {{ background: url("{base}/bg.png") }}'
                       f"</style></head>").replace(
            "<body>", f'<body><img src="{base}/logo.png"><img src="https://example.invalid/x.png">')
        (tmp_path / "report.html.j2").write_text(template)
        (tmp_path / "report.css").write_text((TEMPLATES_DIR / "report.css").read_text())
        html = render_html(sample_document(), templates_dir=tmp_path)
        assert f"{base}/logo.png" in html
        pdf, pages = html_to_pdf(html)
    finally:
        server.shutdown()
    assert pages >= 1 and pdf.startswith(b"%PDF")
    assert _Recorder.requests == []


def test_cli_requests_resolve_to_partitions():
    from orchestration.report_runs import ReportRequestError, resolve_request

    today = date(2026, 3, 4)
    assert resolve_request("monthly_revenue", "2026-02", today)[1] == "2026-02-01"
    assert resolve_request("monthly_revenue", "latest", today)[1] == "2026-02-01"
    assert resolve_request("user_acquisition", "latest", today)[1] == "2026-02-23"
    assert resolve_request("platform_stats", "2026-03-01", today)[1] == "2026-03-01"
    with pytest.raises(ReportRequestError, match="unknown report 'nope'; the catalogue has: feature_adoption"):
        resolve_request("nope", "latest", today)
    with pytest.raises(ReportRequestError, match="not a complete monthly period"):
        resolve_request("monthly_revenue", "2025-12", today)
    with pytest.raises(ReportRequestError, match="starts on the 1st"):
        resolve_request("monthly_revenue", "2026-02-02", today)


def test_xlsx_summary_values_are_formatted_by_their_kind():
    summary = openpyxl.load_workbook(io.BytesIO(render_xlsx(sample_document())))["Summary"]
    assert (summary["B2"].value, summary["B2"].number_format) == (1234.5, "#,##0.00")
    assert (summary["B3"].value, summary["B3"].number_format) == (42, "#,##0")


def test_exports_carry_no_float_noise_internal_columns_or_cut_sheet_names():
    """What a customer opens: amounts as written, no internal `kind` column, sheet names whole words."""
    frame = pd.DataFrame({"day": ["2026-12-01"], "amount": [-35069.332 + 1e-11]})
    document = sample_document(summary=[Metric("Revenue", 0.1 + 0.2, "money")],
                               tables=[Table("Projected usage for December 2026", frame, {"amount": "money"})])
    csv_text = render_csv(document).decode("utf-8-sig")
    assert "-35069.33,USD\r\n" in csv_text and "0.3,USD," in csv_text  # money: to the cent, with its currency
    assert list(read_sectioned_csv(csv_text)["Summary metrics"].columns) == ["metric", "value", "currency", "note"]
    workbook = openpyxl.load_workbook(io.BytesIO(render_xlsx(document)))
    assert workbook.sheetnames[:2] == ["Summary", "Projected usage December 2026"]
    assert [c.value for c in workbook["Summary"][1]] == ["metric", "value", "currency", "note"]
    assert workbook["Summary"]["B2"].number_format == "#,##0.00"


def test_pdf_bytes_do_not_depend_on_the_clock(monkeypatch):
    """Re-rendering the same document a second later gives the same bytes, also on a machine
    without HarfBuzz's subsetter, where fontTools subsets fonts and stamps them with the time."""
    import time

    import weasyprint.pdf.fonts

    monkeypatch.setattr(weasyprint.pdf.fonts, "harfbuzz_subset", None)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first = html_to_pdf("<p>Zoë Ürün 123</p>")[0]
    time.sleep(1.1)
    assert html_to_pdf("<p>Zoë Ürün 123</p>")[0] == first


def test_weasyprint_subsetter_notice_is_logged_once_per_process(caplog):
    """Without libharfbuzz-subset0 weasyprint warns for every font of every document: once is enough."""
    import logging

    from reports.render_pdf import _quiet_repeated_subsetter_notice

    _quiet_repeated_subsetter_notice()
    library = logging.getLogger("weasyprint")
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        for font in ("Report Noto Sans", "Report Noto Sans CJK", "Report Noto Sans"):
            library.warning('Using fontTools instead of HarfBuzz-Subset for font "%s".', font)
        library.warning("another warning")
    notices = [r for r in caplog.records if "HarfBuzz-Subset" in r.getMessage()]
    assert len(notices) <= 1  # 0 when an earlier test in this process rendered without the library
    assert any(r.getMessage() == "another warning" for r in caplog.records)
