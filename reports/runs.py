"""Recording report runs and their files in the warehouse (reports.report_runs / report_artifacts).

report_artifacts is what delivery reads: it must list exactly the files now on disk for a
report period, so a run replaces the period's rows in one transaction after writing the files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from orchestration.warehouse.connection import connect
from reports.artifacts import Artifact
from reports.periods import Period


@dataclass
class RunRecord:
    report_id: str
    period: Period
    started_at: datetime
    dagster_run_id: str | None = None
    documents: int = 0
    files: int = 0
    row_counts: dict[str, int] = field(default_factory=dict)
    data_hash: str | None = None
    render_seconds: dict[str, float] = field(default_factory=dict)
    pdf_pages: int | None = None


def record_run(url: str, record: RunRecord, finished_at: datetime, error: str | None = None) -> None:
    with connect(url) as conn:
        conn.execute(
            "INSERT INTO reports.report_runs (dagster_run_id, report_id, period, period_start, period_end,"
            " status, started_at, finished_at, documents, files, input_row_counts, data_hash, render_seconds,"
            " pdf_pages, error) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (record.dagster_run_id, record.report_id, record.period.key, record.period.start, record.period.end,
             "failed" if error else "succeeded", record.started_at, finished_at, record.documents, record.files,
             json.dumps(record.row_counts), record.data_hash, json.dumps(record.render_seconds),
             record.pdf_pages, error),
        )
        conn.commit()


def replace_artifacts(url: str, report_id: str, period_key: str, folder: Path,
                      artifacts: list[Artifact], data_hash: str) -> None:
    with connect(url) as conn:
        conn.execute("DELETE FROM reports.report_artifacts WHERE report_id = %s AND period = %s",
                     (report_id, period_key))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO reports.report_artifacts (report_id, period, account_id, format, path, bytes,"
                " sha256, data_hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                [(report_id, period_key, a.account_id, a.format, str(folder / a.name), len(a.content),
                  a.sha256, data_hash) for a in artifacts],
            )
        conn.commit()
