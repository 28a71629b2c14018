"""One report period end to end: dataset -> documents -> files in every format -> folder + records.

Kept free of Dagster so the CLI, the assets and the tests share one path; the asset passes in
the upstream partitions it knows about for the manifest.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

import pandas as pd

from reports.artifacts import Artifact, artifact_name, build_manifest, write_period
from reports.builders import build_documents
from reports.catalogue import ReportSpec
from reports.datasets import data_hash, row_counts
from reports.document import Document
from reports.periods import Period
from reports.render_pdf import render_pdf, render_pdf_with_pages
from reports.render_tabular import render_csv, render_xlsx
from reports.render_txt import render_txt
from reports.runs import RunRecord, record_run, replace_artifacts
from reports.sampling import report_account_sample, sample_accounts

log = logging.getLogger(__name__)
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


# Documents from which a process pool pays: each spawned worker first imports pandas, matplotlib
# and weasyprint (seconds), a document takes ~0.4 s.
PARALLEL_FROM = 50


def render_document(report_id: str, formats: tuple[str, ...], period_start: date, document: Document
                    ) -> tuple[list[Artifact], dict[str, float], int]:
    """One document in every format: its artifacts, seconds per format and PDF pages."""
    artifacts, seconds, pages = [], {}, 0
    for fmt in formats:
        began = time.perf_counter()
        if fmt == "pdf":
            content, pages = render_pdf_with_pages(document)
        else:
            content = RENDERERS[fmt](document)
        seconds[fmt] = time.perf_counter() - began
        name = artifact_name(report_id, document.account_id, document.account_name, period_start, fmt)
        artifacts.append(Artifact(name, fmt, document.account_id, content))
    return artifacts, seconds, pages


def render_artifacts(spec: ReportSpec, period: Period, dataset: dict[str, pd.DataFrame], workers: int = 1,
                     account_sample: int | None = None
                     ) -> tuple[list[Artifact], dict[str, float], int | None, int, int]:
    """Every document of the period in every format, in document order.

    A per-account report renders its documents in `workers` processes (spawned, so no state is
    inherited from a threaded parent); results are identical to rendering them one by one.
    With `account_sample`, a per-account report renders only that many accounts (reports/sampling.py).
    """
    dataset, audience = sample_accounts(spec, dataset, account_sample)
    if account_sample is not None and account_sample < audience:
        log.warning("%s %s: rendering %d of %d accounts (REPORT_ACCOUNT_SAMPLE=%d)",
                    spec.id, period.key, account_sample, audience, account_sample)
    documents = build_documents(spec, period, dataset)
    render = partial(render_document, spec.id, spec.formats, period.start)
    results = None
    if workers > 1 and len(documents) >= PARALLEL_FROM:
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                results = list(pool.map(render, documents, chunksize=4))
        except BrokenProcessPool as exc:  # e.g. a parent whose __main__ cannot be re-imported (stdin)
            log.warning("Rendering %s in one process: the worker pool failed (%s)", spec.id, exc)
    if results is None:
        results = [render(document) for document in documents]
    artifacts = [a for rendered, _, _ in results for a in rendered]
    seconds = {fmt: round(sum(r[1][fmt] for r in results), 3) for fmt in spec.formats}
    pages = sum(r[2] for r in results)
    empty = sum(1 for d in documents if d.empty)
    return artifacts, seconds, pages if "pdf" in spec.formats else None, len(documents), empty


def publish_report(url: str, spec: ReportSpec, period: Period, dataset: dict[str, pd.DataFrame],
                   artifacts_dir: Path, upstream: dict[str, str | None],
                   dagster_run_id: str | None = None, workers: int = 1) -> PublishResult:
    """Render every format, replace the period's folder and its report_artifacts rows, log the run."""
    record = RunRecord(spec.id, period, datetime.now(UTC), dagster_run_id,
                       row_counts=row_counts(dataset), data_hash=data_hash(dataset))
    try:
        artifacts, seconds, pages, documents, empty = render_artifacts(spec, period, dataset, workers,
                                                                       report_account_sample())
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
