"""Report render times for `make bench` (issue 6, item 4): PDF seconds per document, per report.

Renders each catalogue report for its latest complete period on the benchmark database (the
period before the newest usage day), through the same code the report assets run: build the
documents (charts included), then the PDF. Per-account reports time a sample of accounts, since
their cost is linear in the audience; the notes give the audience and the sample's page count.
"""

from __future__ import annotations

import time
from datetime import timedelta

from bench.hooks import BenchContext, Figure, extra_figure

SAMPLE_ACCOUNTS = 20


def _sample(dataset: dict, inputs: tuple[str, ...], accounts: int) -> dict:
    """The dataset restricted to its first `accounts` audience accounts (per-account reports)."""
    keep = dataset[inputs[0]]["account_id"].head(accounts)
    return {name: frame[frame["account_id"].isin(keep)] for name, frame in dataset.items()}


@extra_figure
def report_render_times(ctx: BenchContext) -> dict[str, Figure]:
    from orchestration.warehouse.frames import read_frame
    from reports.builders import build_documents
    from reports.catalogue import load_catalogue
    from reports.datasets import load_dataset
    from reports.periods import latest_complete_period
    from reports.render_pdf import render_pdf_with_pages

    newest = read_frame(ctx.url, "SELECT max(usage_date) AS d FROM marts.fct_usage_daily")["d"].iloc[0]
    figures: dict[str, Figure] = {}
    if newest is None:  # nothing built: nothing to time
        return figures
    for spec in load_catalogue().values():
        period = latest_complete_period(spec.schedule, newest + timedelta(days=1))
        dataset = load_dataset(ctx.url, spec, period.start, period.end)
        audience = len(dataset[spec.inputs[0]]) if spec.audience == "account" else 1
        if spec.audience == "account":
            dataset = _sample(dataset, spec.inputs, SAMPLE_ACCOUNTS)
        runs, pages, documents = [], 0, 0
        for _ in range(ctx.repeat):
            began = time.perf_counter()
            rendered = build_documents(spec, period, dataset)
            pages = sum(render_pdf_with_pages(document)[1] for document in rendered)
            documents = len(rendered)
            runs.append((time.perf_counter() - began) / documents)
        figures[f"report_pdf_{spec.id}"] = Figure(
            f"{spec.title} ({period.key}): PDF per document, charts included", "s", runs, goal="< 3 s",
            notes=[f"{documents} document(s) rendered, {pages} page(s) in all; audience {audience}"])
    return figures
