"""The hook for figures other parts of the platform add to `make bench` (issue 6, item 4: reports).

A figure module registers a function with `@extra_figure`; `bench/run.py` calls every registered
function once, after the built-in figures, with the benchmark database fully built (all usage layers
and the unpartitioned marts of the full history; run `ml_job` yourself if a report needs `ml.*`).
The function returns ``{figure_id: Figure}``; each figure lands in results.json and gets its own
table in BENCHMARKS.md. Add the module's import path to `EXTRA_FIGURE_MODULES`. Example::

    # bench/figures_reports.py
    from bench.hooks import BenchContext, Figure, extra_figure

    @extra_figure
    def report_render_times(ctx: BenchContext) -> dict[str, Figure]:
        runs = [time_one_render(ctx.url) for _ in range(ctx.repeat)]
        return {"report_pdf_render": Figure("Monthly usage report PDF render", "s", runs, goal="< 3 s")}
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

EXTRA_FIGURE_MODULES: list[str] = ["bench.figures_reports", "bench.figures_delivery", "bench.figures_ml"]


@dataclass(frozen=True)
class BenchContext:
    url: str  # the benchmark database (also WAREHOUSE_URL)
    scale: str
    repeat: int
    workdir: Path  # scratch space under bench/work/, emptied at the start of each run


@dataclass
class Figure:
    title: str
    unit: str
    runs: list[float]
    goal: str | None = None
    notes: list[str] = field(default_factory=list)


_REGISTRY: list[Callable[[BenchContext], dict[str, Figure]]] = []


def extra_figure(fn: Callable[[BenchContext], dict[str, Figure]]) -> Callable[[BenchContext], dict[str, Figure]]:
    _REGISTRY.append(fn)
    return fn


def extra_figures(ctx: BenchContext) -> dict[str, Figure]:
    for module in EXTRA_FIGURE_MODULES:
        importlib.import_module(module)
    figures: dict[str, Figure] = {}
    for fn in _REGISTRY:
        figures.update(fn(ctx))
    return figures
