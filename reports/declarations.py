"""What makes a catalogue report complete, checked in one place.

A report is declared once, in reports/catalogue.yaml; its other pieces are found by convention
from its id: the input models rpt_<id>__<table> (dbt_project/models/reports), the builder
`build_<id>` (reports/builders), the expectation suite `suite_<id>` (expectations/report_suites.py)
with a check on each input table, and the templates its formats render with. Its lineage is
derived from dbt (reports/lineage.py). `declaration_problems` lists every missing piece, and every
piece that belongs to no report (a builder, a suite or an input model left behind when a report
was removed or renamed); tests/test_report_declarations.py requires the list to be empty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path

from reports.catalogue import ReportSpec
from reports.lineage import REPORT_INPUTS_SCHEMA, upstream_of
from reports.periods import latest_complete_period

# The templates each format renders with (reports/render_pdf.py; delivery's e-mail, reports/mail_message.py).
PDF_TEMPLATE = Path(__file__).parent / "templates" / "report.html.j2"
MAIL_TEMPLATES = tuple(Path(__file__).parent / "email_templates" / name for name in ("report.html.j2", "report.txt.j2"))
_SAMPLE_DAY = date(2026, 3, 4)  # any day: a suite's checks do not depend on which period


def _report_input_models(manifest: dict) -> set[str]:
    return {n["name"] for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and n["config"].get("schema") == REPORT_INPUTS_SCHEMA}


def _spec_problems(spec: ReportSpec, builders: Mapping[str, Callable], suites: Mapping[str, Callable],
                   manifest: dict, input_models: set[str]) -> list[str]:
    problems = [f"report {spec.id!r}: input model {model!r} is not a dbt model in schema {REPORT_INPUTS_SCHEMA}"
                for model in spec.input_models if model not in input_models]
    if spec.id not in builders:
        problems.append(f"report {spec.id!r}: no builder build_{spec.id} in reports/builders")
    if spec.id not in suites:
        problems.append(f"report {spec.id!r}: no expectation suite suite_{spec.id} in expectations/report_suites.py")
    else:
        checked = {check.table.split(":")[0] for check in suites[spec.id](latest_complete_period(spec.schedule,
                                                                                                 _SAMPLE_DAY))}
        problems += [f"report {spec.id!r}: input {table!r} has no check in suite_{spec.id}"
                     for table in spec.inputs if table not in checked]
        problems += [f"report {spec.id!r}: suite_{spec.id} checks {table!r}, which is not one of its inputs"
                     for table in sorted(checked - set(spec.inputs))]
    if not problems and not upstream_of(spec.input_models, manifest):
        problems.append(f"report {spec.id!r}: its input models read no mart or model (empty lineage)")
    templates = [PDF_TEMPLATE] if "pdf" in spec.formats else []
    problems += [f"report {spec.id!r}: template {path} is missing" for path in [*templates, *MAIL_TEMPLATES]
                 if not path.is_file()]
    return problems


def declaration_problems(specs: Mapping[str, ReportSpec], builders: Mapping[str, Callable],
                         suites: Mapping[str, Callable], manifest: dict) -> list[str]:
    """Every missing piece of a catalogue report, and every piece that belongs to no report."""
    input_models = _report_input_models(manifest)
    problems = [problem for spec in specs.values()
                for problem in _spec_problems(spec, builders, suites, manifest, input_models)]
    problems += [f"builder build_{report_id} belongs to no catalogue report" for report_id in sorted(builders)
                 if report_id not in specs]
    problems += [f"suite suite_{report_id} belongs to no catalogue report" for report_id in sorted(suites)
                 if report_id not in specs]
    read = {model for spec in specs.values() for model in spec.input_models}
    problems += [f"input model {model} is read by no catalogue report" for model in sorted(input_models - read)]
    return problems
