"""Reports rendered through Dagster from a simulated warehouse: figures equal the marts.

Each PDF is checked by its text (pypdf) against independent SQL on the marts, and its pages are
rendered to PNG with pdftoppm; spreadsheets are re-read and compared with the dataset.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from io import BytesIO
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from pypdf import PdfReader

from reports.catalogue import load_catalogue
from reports.datasets import data_hash, load_dataset
from reports.formatting import format_value
from reports.periods import period_for
from reports.render_tabular import read_sectioned_csv
from tests.report_warehouse import HOSTILE_NAME, PERIODS, BuiltReports, build_reports
from tests.usage_expectations import read

FEB = "2026-02-01"


@pytest.fixture(scope="module")
def built(warehouse_url: str, dagster_instance, tmp_path_factory) -> BuiltReports:
    artifacts_dir = tmp_path_factory.mktemp("artifacts")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ARTIFACTS_DIR", str(artifacts_dir))
        yield build_reports(warehouse_url, dagster_instance, artifacts_dir)


def folder(built: BuiltReports, report_id: str) -> Path:
    spec = load_catalogue()[report_id]
    return built.artifacts_dir / report_id / PERIODS[spec.schedule]


def pdf_text(path: Path) -> str:
    """The PDF's text (pypdf). A glyph missing from every installed font (CJK without Noto CJK)
    makes pypdf decode the page as UTF-16, interleaving NULs: those are dropped. Whitespace is
    collapsed to single spaces."""
    text = "\n".join(page.extract_text() for page in PdfReader(path).pages).replace("\x00", "")
    return re.sub(r"\s+", " ", text)  # figures may wrap inside their box


def the_file(built: BuiltReports, report_id: str, extension: str, account_id: int | None = None) -> Path:
    manifest = json.loads((folder(built, report_id) / "manifest.json").read_text())
    names = [f["name"] for f in manifest["files"] if f["format"] == extension and f["account_id"] == account_id]
    assert len(names) == 1, names
    return folder(built, report_id) / names[0]


def test_usage_summary_pdf_shows_the_marts_figures(built, db):
    account = built.hostile_account_id
    month = read(db, "SELECT * FROM marts.fct_usage_monthly WHERE account_id = %s AND usage_month = %s",
                 (account, FEB)).iloc[0]
    daily = read(db, "SELECT usage_date, audio_minutes_processed FROM marts.fct_usage_daily"
                     " WHERE account_id = %s AND usage_date >= %s AND usage_date < '2026-03-01'", (account, FEB))
    peak = daily.sort_values(["audio_minutes_processed", "usage_date"], ascending=[False, True]).iloc[0]
    text = pdf_text(the_file(built, "usage_summary", "pdf", account))
    for column, kind in [("audio_minutes_processed", "number"), ("sessions_created", "integer"),
                         ("exports_generated", "integer"), ("api_calls", "integer")]:
        assert format_value(float(month[column]), kind) in text, column
    assert f"{peak.usage_date:%Y-%m-%d} ({format_value(float(peak.audio_minutes_processed))} audio minutes)" in text
    assert "Page 1 of" in text and "Monthly usage summary" in text
    assert "Projected usage for March 2026" in text  # ml.limit_projections is for the following month


def test_every_audience_account_gets_its_files(built, db):
    audience = read(db, "SELECT account_id FROM marts.fct_plan_utilization_monthly"
                        " WHERE usage_month = %s AND plan_id IS NOT NULL", (FEB,))
    manifest = json.loads((folder(built, "usage_summary") / "manifest.json").read_text())
    pdfs = {f["account_id"] for f in manifest["files"] if f["format"] == "pdf"}
    assert pdfs == set(audience.account_id)
    stored = read(db, "SELECT * FROM reports.report_artifacts WHERE report_id = 'usage_summary' AND period = %s",
                  (FEB,))
    assert len(stored) == len(manifest["files"]) == 4 * len(audience)
    assert all(Path(p).is_file() for p in stored.path)


def test_revenue_pdf_shows_the_bridge_and_invoiced_revenue(built, db):
    bridge = read(db, "SELECT * FROM marts.fct_mrr_summary_monthly WHERE mrr_month = %s", (FEB,)).iloc[0]
    invoiced = read(db, "SELECT coalesce(sum(total_revenue), 0) AS t FROM marts.fct_revenue_monthly"
                        " WHERE revenue_month = %s", (FEB,)).t[0]
    text = pdf_text(the_file(built, "monthly_revenue", "pdf"))
    for column in ["starting_mrr", "ending_mrr", "arr", "arpa"]:
        assert format_value(float(bridge[column]), "money") in text, column
    assert format_value(float(invoiced), "money") in text
    assert format_value(int(bridge.paying_customers), "integer") in text


def test_reconciliation_lists_every_difference(built, db):
    invoiced = read(db, "SELECT plan_id, sum(total_revenue) AS invoiced FROM marts.fct_revenue_monthly"
                        " WHERE revenue_month = %s GROUP BY plan_id", (FEB,)).set_index("plan_id").invoiced
    mrr = read(db, "SELECT coalesce(u.plan_id, 'unknown') AS plan_id, sum(m.mrr) AS mrr FROM marts.fct_mrr_monthly m"
                   " LEFT JOIN marts.fct_plan_utilization_monthly u ON u.account_id = m.account_id"
                   " AND u.usage_month = m.mrr_month WHERE m.mrr_month = %s GROUP BY 1", (FEB,))
    mrr = mrr.set_index("plan_id").mrr
    sections = read_sectioned_csv(the_file(built, "financial_reconciliation", "csv").read_bytes())
    rec = sections["Reconciliation by plan"].set_index("plan_id")
    for plan, amount in invoiced.items():
        assert float(rec.loc[plan, "invoiced_total"]) == pytest.approx(float(amount))
    for plan, amount in mrr[mrr != 0].items():
        assert float(rec.loc[plan, "modeled_mrr"]) == pytest.approx(float(amount))
    listed = set(sections["Differences"].plan_id) if len(sections["Differences"]) else set()
    assert listed == set(rec.index[rec.difference.astype(float).abs() > 0.005])
    text = pdf_text(the_file(built, "financial_reconciliation", "pdf"))
    assert format_value(float(invoiced.sum()), "money") in text


def test_acquisition_and_platform_stats_count_the_signups(built, db):
    week = read(db, "SELECT acquisition_channel, sum(signups) AS n FROM marts.fct_signups_daily"
                    " WHERE signup_date >= '2026-02-16' AND signup_date < '2026-02-23' GROUP BY 1")
    text = pdf_text(the_file(built, "user_acquisition", "pdf"))
    assert f"Signups {format_value(int(week.n.sum()), 'integer')}" in text
    channels = read_sectioned_csv(the_file(built, "user_acquisition", "csv").read_bytes())["Signups by channel"]
    assert dict(zip(channels.acquisition_channel, channels.signups.astype(int))) == \
        dict(zip(week.acquisition_channel, week.n.astype(int)))
    day = read(db, "SELECT count(*) FILTER (WHERE sessions_created + exports_generated + api_calls"
                   " + share_links_created + share_links_accessed > 0) AS active, sum(sessions_created) AS sessions"
                   " FROM marts.fct_usage_daily WHERE usage_date = '2026-03-09'").iloc[0]
    text = pdf_text(the_file(built, "platform_stats", "pdf"))
    assert f"Active accounts {format_value(int(day.active), 'integer')}" in text
    assert f"Sessions {format_value(int(day.sessions), 'integer')}" in text


def test_feature_adoption_shares_equal_pandas(built, db):
    monthly = read(db, "SELECT * FROM marts.fct_usage_monthly WHERE usage_month = %s", (FEB,))
    activity = ["sessions_created", "exports_generated", "api_calls", "share_links_created", "share_links_accessed"]
    active = monthly[monthly[activity].sum(axis=1) > 0]
    workbook = openpyxl.load_workbook(the_file(built, "feature_adoption", "xlsx"))
    sheet = workbook["Feature adoption"]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    for feature, column in [("PDF exports", "exports_pdf"), ("Share links created", "share_links_created"),
                            ("Share links accessed", "share_links_accessed")]:
        using = int((active[column] > 0).sum())
        assert rows[feature][1] == int(monthly[column].sum())
        assert rows[feature][2] == using
        assert rows[feature][3] == pytest.approx(round(100 * using / len(active), 1))
    text = pdf_text(the_file(built, "feature_adoption", "pdf"))
    assert f"Active accounts {len(active)}" in text


def test_spreadsheets_equal_the_dataset(built):
    spec = load_catalogue()["usage_summary"]
    period = period_for("monthly", FEB)
    dataset = load_dataset(built.url, spec, period.start, period.end)
    account = built.hostile_account_id
    daily = dataset["usage_daily"][dataset["usage_daily"].account_id == account].drop(columns="account_id")
    daily = daily.reset_index(drop=True)

    csv_file = the_file(built, "usage_summary", "csv", account)
    csv_log = read_sectioned_csv(csv_file.read_bytes())["Daily log: Daily usage"]
    assert list(csv_log.columns) == list(daily.columns)
    expected = daily.astype({"usage_date": str})
    got = csv_log.replace("", None).astype({c: float for c in daily.columns if c != "usage_date"})
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)

    workbook = openpyxl.load_workbook(the_file(built, "usage_summary", "xlsx", account))
    sheet = workbook["Daily log"]
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == list(daily.columns)
    frame = pd.DataFrame(values[1:], columns=values[0])
    assert all(isinstance(v, int | float) for v in frame.audio_minutes_processed)
    frame["usage_date"] = [d.date() for d in frame.usage_date]
    pd.testing.assert_frame_equal(frame, daily, check_dtype=False)
    assert sheet.column_dimensions["A"].width >= len("usage_date")


def test_manifest_describes_the_inputs(built):
    spec = load_catalogue()["monthly_revenue"]
    period = period_for("monthly", FEB)
    dataset = load_dataset(built.url, spec, period.start, period.end)
    manifest = json.loads((folder(built, "monthly_revenue") / "manifest.json").read_text())
    assert manifest["report"] == "monthly_revenue" and manifest["period"] == FEB
    assert manifest["input_row_counts"] == {k: len(v) for k, v in sorted(dataset.items())}
    assert manifest["data_hash"] == data_hash(dataset)
    assert manifest["formats"] == ["pdf", "csv", "xlsx", "txt"]
    upstream = {u["asset"]: u["partitions"] for u in manifest["upstream"]}
    assert upstream["marts/fct_mrr_summary_monthly"] is None
    usage = json.loads((folder(built, "usage_summary") / "manifest.json").read_text())
    usage_upstream = {u["asset"]: u["partitions"] for u in usage["upstream"]}
    assert usage_upstream["marts/fct_usage_daily"] == "2026-02-01..2026-02-28"
    assert usage_upstream["marts/fct_usage_monthly"] == "2026-02-01..2026-02-01"


def test_rerun_replaces_the_same_files(built, dagster_instance, db):
    from orchestration.definitions import defs
    from tests.report_warehouse import materialize_report

    target = folder(built, "platform_stats")
    before = sorted(p.name for p in target.iterdir())
    manifest = (target / "manifest.json").read_text()
    (target / "stale_leftover.txt").write_text("from an older run")
    assert materialize_report(defs, dagster_instance, "platform_stats", "daily", PERIODS["daily"]).success
    assert sorted(p.name for p in target.iterdir()) == before
    assert (target / "manifest.json").read_text() == manifest
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]
    runs = read(db, "SELECT status FROM reports.report_runs WHERE report_id = 'platform_stats' AND period = %s",
                (PERIODS["daily"],))
    assert list(runs.status) == ["succeeded", "succeeded"]
    assert read(db, "SELECT count(*) AS n FROM reports.report_artifacts WHERE report_id = 'platform_stats'").n[0] == 4


def test_hostile_account_name_gives_a_safe_file_name(built):
    account = built.hostile_account_id
    names = [p.name for p in folder(built, "usage_summary").iterdir() if f"-{account}_" in p.name]
    assert len(names) == 4
    for name in names:
        assert re.fullmatch(rf"usage_summary_[a-z0-9-]+-{account}_20260201\.(pdf|csv|xlsx|txt)", name), name
        assert len(name) < 120
    sections = read_sectioned_csv(the_file(built, "usage_summary", "csv", account).read_bytes())
    assert dict(zip(sections["Report"].field, sections["Report"].value))["Account"] == HOSTILE_NAME
    raw_csv = the_file(built, "usage_summary", "csv", account).read_text(encoding="utf-8-sig")
    assert "'=cmd" in raw_csv  # inert in a spreadsheet
    info = openpyxl.load_workbook(the_file(built, "usage_summary", "xlsx", account))["Report"]
    assert info["B2"].value == HOSTILE_NAME and info["B2"].data_type == "s"
    assert "Zoë" in pdf_text(the_file(built, "usage_summary", "pdf", account))


def test_no_personal_data_in_any_artifact(built, db):
    owners = read(db, "SELECT owner_email, owner_name, account_name FROM raw.accounts")
    texts = []
    report_files = [p for report_id in load_catalogue() for p in (built.artifacts_dir / report_id).rglob("*")]
    assert report_files
    for path in report_files:  # not the delivery outbox: e-mails carry their recipient's address
        if path.suffix == ".pdf":
            texts.append(pdf_text(path))
        elif path.suffix == ".xlsx":
            workbook = openpyxl.load_workbook(path)
            texts.append(" ".join(str(v) for ws in workbook for row in ws.iter_rows(values_only=True) for v in row))
        elif path.is_file():
            texts.append(path.read_text(encoding="utf-8-sig"))
    corpus = "\n".join(texts)
    assert not [e for e in owners.owner_email if e in corpus]
    names_not_in_account_names = [n for n in owners.owner_name
                                  if n in corpus and not any(n in a for a in owners.account_name)]
    assert not names_not_in_account_names


def test_empty_period_says_so_in_every_format(built, tmp_path):
    from reports.publish import publish_report

    for spec in load_catalogue().values():
        period = period_for(spec.schedule, "2020-01-06" if spec.schedule == "weekly" else "2020-01-01")
        dataset = load_dataset(built.url, spec, period.start, period.end)
        result = publish_report(built.url, spec, period, dataset, tmp_path, upstream={})
        assert result.documents == result.empty_documents == 1, spec.id
        for artifact in result.artifacts:
            path = result.folder / artifact.name
            if artifact.format == "pdf":
                text = pdf_text(path)
            elif artifact.format == "xlsx":
                text = str(openpyxl.load_workbook(BytesIO(artifact.content))["Summary"]["A2"].value)
            else:
                text = path.read_text(encoding="utf-8-sig")
            assert "No data for this period" in text, (spec.id, artifact.format)


def test_pages_render_to_png(built, tmp_path):
    if shutil.which("pdftoppm") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdftoppm (poppler-utils) is required under CI to render report pages")
        pytest.skip("pdftoppm (poppler-utils) is not installed: cannot render report pages to PNG")
    for report_id in load_catalogue():
        account = built.hostile_account_id if report_id == "usage_summary" else None
        pdf = the_file(built, report_id, "pdf", account)
        pages = len(PdfReader(pdf).pages)
        subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(tmp_path / report_id)], check=True)
        images = sorted(tmp_path.glob(f"{report_id}-*.png"))
        assert len(images) == pages >= 1
        assert all(p.stat().st_size > 5_000 for p in images)  # not blank


def test_cli_renders_a_past_period_and_names_bad_requests(built, tmp_path, monkeypatch, capsys):
    """`usage-analytics report` runs the report's assets (and delivery, to the outbox) for January."""
    from orchestration import cli

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    assert cli.main(["report", "--id", "no_such_report", "--period", "2026-02"]) == 2
    assert "unknown report 'no_such_report'" in capsys.readouterr().err
    assert cli.main(["report", "--id", "user_acquisition", "--period", "2026-02-17"]) == 2
    assert "starts on a Monday" in capsys.readouterr().err
    assert cli.main(["report", "--id", "monthly_revenue", "--period", "2019-01"]) == 2
    assert "not a complete monthly period" in capsys.readouterr().err

    target = built.artifacts_dir / "feature_adoption" / "2026-01-01"
    assert not target.exists()
    assert cli.main(["report", "--id", "feature_adoption", "--period", "2026-01"]) == 0
    assert "report feature_adoption 2026-01-01: ok" in capsys.readouterr().out
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["period"] == "2026-01-01" and len(manifest["files"]) == 4


def test_a_worker_pool_renders_the_same_files(built, monkeypatch):
    """Rendering a per-account report in worker processes gives the files one process gives,
    and both are the files the Dagster run wrote (an unchanged dataset re-renders identically)."""
    import reports.publish as publish

    spec = load_catalogue()["usage_summary"]
    period = period_for("monthly", FEB)
    dataset = load_dataset(built.url, spec, period.start, period.end)
    monkeypatch.setattr(publish, "PARALLEL_FROM", 2)  # the fixture's 28 accounts are below the real bar
    pooled = publish.render_artifacts(spec, period, dataset, workers=2)[0]
    serial = publish.render_artifacts(spec, period, dataset, workers=1)[0]
    assert [(a.name, a.sha256) for a in pooled] == [(a.name, a.sha256) for a in serial]
    manifest = json.loads((folder(built, "usage_summary") / "manifest.json").read_text())
    assert sorted((f["name"], f["sha256"]) for f in manifest["files"]) == sorted((a.name, a.sha256) for a in serial)


def test_demo_renders_every_report_for_its_latest_period(built, dagster_instance):
    """What `make demo` runs after the models: every report, latest complete period, with delivery."""
    from datetime import UTC, datetime

    from orchestration.definitions import defs
    from orchestration.report_runs import materialize_latest_reports

    # after every deadline of the day: the periods the freshness checks expect are the latest ones
    runs = materialize_latest_reports(defs, dagster_instance, at=datetime(2026, 3, 10, 12, tzinfo=UTC))
    assert {(r.report_id, r.period) for r in runs} == {
        ("usage_summary", FEB), ("monthly_revenue", FEB), ("financial_reconciliation", FEB),
        ("feature_adoption", FEB), ("platform_stats", "2026-03-09"), ("user_acquisition", "2026-03-02")}
    assert all(r.success for r in runs), [r.failure for r in runs if not r.success]
    for run in runs:
        assert (built.artifacts_dir / run.report_id / run.period / "manifest.json").is_file()
