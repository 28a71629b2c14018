"""Report builders: dataset -> Documents, one per catalogue report, found by name.

A builder decides what the report says (figures, breakdowns, charts, the daily log) and when
a period has no data; renderers only draw. The builder of report `<id>` is the function
`build_<id>(spec, period, dataset)` in any module of this package (reports sharing helpers share
a module). Adding a report (docs/reports.md, "Adding a report"): its catalogue entry, its input
models in dbt_project/models/reports/, its builder here and its suite `suite_<id>` in
expectations/report_suites.py; tests/test_report_declarations.py fails while one is missing, or
when a builder or suite belongs to no catalogue entry.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable

import pandas as pd

from reports.catalogue import ReportSpec
from reports.document import Document
from reports.periods import Period

Builder = Callable[[ReportSpec, Period, dict[str, pd.DataFrame]], list[Document]]
PREFIX = "build_"


def find_builders() -> dict[str, Builder]:
    """Every `build_<id>` function defined in a module of this package, by report id."""
    found: dict[str, Builder] = {}
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith(PREFIX) and function.__module__ == module.__name__:
                report_id = name.removeprefix(PREFIX)
                if report_id in found:
                    raise TypeError(f"two builders for report {report_id!r}: {found[report_id].__module__} "
                                    f"and {module.__name__}")
                found[report_id] = function
    return found


BUILDERS: dict[str, Builder] = find_builders()


def build_documents(spec: ReportSpec, period: Period, dataset: dict[str, pd.DataFrame]) -> list[Document]:
    if spec.id not in BUILDERS:
        raise KeyError(f"report {spec.id!r} is in the catalogue but has no builder {PREFIX}{spec.id} "
                       "in reports/builders")
    missing = [name for name in spec.inputs if name not in dataset]
    if missing:
        raise ValueError(f"report {spec.id}: dataset lacks input tables {missing}")
    return BUILDERS[spec.id](spec, period, dataset)
