"""One report period end to end: dataset -> documents -> files in every format -> folder + records.

Kept free of Dagster so the CLI, the assets and the tests share one path; the asset passes in
the upstream partitions it knows about for the manifest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from reports.artifacts import Artifact, artifact_name, build_manifest, write_period
from reports.builders import build_documents
from reports.catalogue import ReportSpec
from reports.datasets import data_hash, row_counts
from reports.periods import Period
from reports.render_pdf import render_pdf, render_pdf_with_pages
from reports.render_tabular import render_csv, render_xlsx
from reports.render_txt import render_txt
from reports.runs import RunRecord, record_run, replace_artifacts

RENDERERS = {"pdf": render_pdf, "csv": render_csv, "xlsx": render_xlsx, "txt": render_txt}


@dataclass(frozen=True)
class PublishResult:
    folder: Path
    artifacts: list[Artifact]
    manifest: dict
    render_seconds: dict[str, float]
    pdf_pages: int | None
    documents: int
    empty_documents: int


def render_artifacts(spec: ReportSpec, period: Period, dataset: dict[str, pd.DataFrame]
                     ) -> tuple[list[Artifact], dict[str, float], int | None, int, int]:
    documents = build_documents(spec, period, dataset)
    artifacts: list[Artifact] = []
    seconds = dict.fromkeys(spec.formats, 0.0)
    pages = 0
    for document in documents:
        for fmt in spec.formats:
            began = time.perf_counter()
            if fmt == "pdf":
                content, document_pages = render_pdf_with_pages(document)
                pages += document_pages
            else:
                content = RENDERERS[fmt](document)
            seconds[fmt] += time.perf_counter() - began
            name = artifact_name(spec.id, document.account_id, document.account_name, period.start, fmt)
            artifacts.append(Artifact(name, fmt, document.account_id, content))
    empty = sum(1 for d in documents if d.empty)
    return (artifacts, {k: round(v, 3) for k, v in seconds.items()},
            pages if "pdf" in spec.formats else None, len(documents), empty)


def publish_report(url: str, spec: ReportSpec, period: Period, dataset: dict[str, pd.DataFrame],
                   artifacts_dir: Path, upstream: dict[str, str | None],
                   dagster_run_id: str | None = None) -> PublishResult:
    """Render every format, replace the period's folder and its report_artifacts rows, log the run."""
    record = RunRecord(spec.id, period, datetime.now(UTC), dagster_run_id,
                       row_counts=row_counts(dataset), data_hash=data_hash(dataset))
    try:
        artifacts, seconds, pages, documents, empty = render_artifacts(spec, period, dataset)
        record.render_seconds, record.pdf_pages, record.documents = seconds, pages, documents
        record.files = len(artifacts)
        manifest = build_manifest(spec.id, spec.title, period.key, period.start, period.end, spec.formats,
                                  record.row_counts, record.data_hash, upstream, artifacts)
        folder = write_period(artifacts_dir, spec.id, period.key, artifacts, manifest)
        replace_artifacts(url, spec.id, period.key, folder, artifacts, record.data_hash)
    except Exception as exc:
        record_run(url, record, datetime.now(UTC), error=f"{type(exc).__name__}: {exc}")
        raise
    record_run(url, record, datetime.now(UTC))
    return PublishResult(folder, artifacts, manifest, seconds, pages, documents, empty)
