"""The report catalogue (reports/catalogue.yaml) as validated, immutable specs.

The YAML file is the single declaration of which reports exist; Dagster assets, schedules and the
CLI are generated from it, so a bad entry must fail loudly at load time, naming the entry.
A report's inputs are dbt models (dbt_project/models/reports/rpt_<report>__<table>.sql, or
rpt_shared__<table>.sql when several reports read them); everything else about a report is found
by convention from its id (reports/builders, expectations/report_suites) or derived from dbt (the
marts and ml tables it reads: reports/lineage.py). tests/test_report_declarations.py fails when a
declared piece is missing or a piece belongs to no report.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

CATALOGUE_PATH = Path(__file__).parent / "catalogue.yaml"
MODELS_DIR = Path(__file__).parents[1] / "dbt_project" / "models" / "reports"
SHARED = "shared"  # rpt_shared__<table>: an input several reports read
FORMATS = ("pdf", "csv", "xlsx", "txt")
AUDIENCES = ("account", "internal")
SCHEDULES = ("daily", "weekly", "monthly")
_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_MODEL = re.compile(r"^rpt_(?P<owner>[a-z][a-z0-9_]*?)__(?P<table>[a-z][a-z0-9_]*)$")
_ENV = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


class CatalogueError(ValueError):
    """The catalogue file is invalid; the message names the entry and the field."""


def input_table(model: str) -> str:
    """The dataset table a report input model fills: rpt_<report>__<table> -> <table>."""
    match = _MODEL.match(model)
    if match is None:
        raise CatalogueError(f"input model {model!r} must be named rpt_<report id or {SHARED}>__<table>")
    return match.group("table")


@dataclass(frozen=True)
class ReportSpec:
    id: str
    title: str
    audience: Literal["account", "internal"]
    schedule: Literal["daily", "weekly", "monthly"]
    formats: tuple[str, ...]  # subset of pdf csv xlsx txt
    input_models: tuple[str, ...]  # dbt models rpt_<id>__<table> / rpt_shared__<table>, dataset order
    recipients: tuple[str, ...]  # internal reports; may hold ${ENV_VAR} references

    @property
    def inputs(self) -> tuple[str, ...]:
        """The dataset's table names, in the catalogue's order (the first lists an account report's audience)."""
        return tuple(input_table(model) for model in self.input_models)

    @property
    def upstream(self) -> tuple[str, ...]:
        """Asset keys ("schema/table") of the marts and ml tables the input models read, from dbt's manifest."""
        from reports.lineage import upstream_of  # reads the dbt manifest

        return upstream_of(self.input_models)


def expand_recipients(recipients: tuple[str, ...], environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """Expand ${VAR} references; a variable may hold several comma-separated addresses.

    Unset or empty variables expand to nothing, so an unconfigured demo has no internal recipient.
    """
    env = os.environ if environ is None else environ
    expanded: list[str] = []
    for entry in recipients:
        text = _ENV.sub(lambda m: env.get(m.group(1), ""), entry)
        expanded.extend(part.strip() for part in text.split(",") if part.strip())
    return tuple(dict.fromkeys(expanded))


def _strings(entry_id: str, name: str, value: object, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise CatalogueError(f"report {entry_id!r}: {name} must be a list of strings, got {value!r}")
    if allowed is not None:
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise CatalogueError(f"report {entry_id!r}: unknown {name} {unknown}; allowed: {list(allowed)}")
    if len(set(value)) != len(value):
        raise CatalogueError(f"report {entry_id!r}: duplicate entries in {name}: {value}")
    return tuple(value)


def _choice(entry_id: str, name: str, value: object, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise CatalogueError(f"report {entry_id!r}: {name} must be one of {list(allowed)}, got {value!r}")
    return str(value)


def parse_entry(entry: object, position: int) -> ReportSpec:
    """One catalogue entry as a ReportSpec, or a CatalogueError naming it."""
    if not isinstance(entry, dict):
        raise CatalogueError(f"catalogue entry #{position}: expected a mapping, got {entry!r}")
    entry_id = entry.get("id")
    if not isinstance(entry_id, str) or not _ID.match(entry_id):
        raise CatalogueError(f"catalogue entry #{position}: id must match {_ID.pattern}, got {entry_id!r}")
    known = {"id", "title", "audience", "schedule", "formats", "inputs", "recipients"}
    extra = sorted(set(entry) - known)
    if extra:
        raise CatalogueError(f"report {entry_id!r}: unknown fields {extra}"
                             + (" (upstream is derived from the input models' dbt lineage)"
                                if "upstream" in extra else ""))
    if entry_id == SHARED:
        raise CatalogueError(f"report id {SHARED!r} is reserved for inputs several reports share")
    title = entry.get("title")
    if not isinstance(title, str) or not title.strip():
        raise CatalogueError(f"report {entry_id!r}: title is required")
    spec = ReportSpec(
        id=entry_id,
        title=title.strip(),
        audience=_choice(entry_id, "audience", entry.get("audience"), AUDIENCES),  # type: ignore[arg-type]
        schedule=_choice(entry_id, "schedule", entry.get("schedule"), SCHEDULES),  # type: ignore[arg-type]
        formats=_strings(entry_id, "formats", entry.get("formats"), FORMATS),
        input_models=_strings(entry_id, "inputs", entry.get("inputs")),
        recipients=_strings(entry_id, "recipients", entry.get("recipients", [])) if entry.get("recipients") else (),
    )
    if not spec.formats:
        raise CatalogueError(f"report {entry_id!r}: at least one format is required")
    if not spec.input_models:
        raise CatalogueError(f"report {entry_id!r}: at least one input is required")
    _check_input_models(spec)
    if spec.audience == "internal" and not spec.recipients:
        raise CatalogueError(f"report {entry_id!r}: an internal report needs recipients")
    if spec.audience == "account" and spec.recipients:
        raise CatalogueError(f"report {entry_id!r}: an account report goes to the account owner; "
                             "remove recipients")
    return spec


def _check_input_models(spec: ReportSpec) -> None:
    tables: list[str] = []
    for model in spec.input_models:
        match = _MODEL.match(model)
        if match is None or match.group("owner") not in (spec.id, SHARED):
            raise CatalogueError(f"report {spec.id!r}: input {model!r} must be named rpt_{spec.id}__<table> "
                                 f"(or rpt_{SHARED}__<table> when several reports read it)")
        if not (MODELS_DIR / f"{model}.sql").is_file():
            raise CatalogueError(f"report {spec.id!r}: input {model!r} has no dbt model at "
                                 f"{MODELS_DIR / f'{model}.sql'}")
        tables.append(match.group("table"))
    if len(set(tables)) != len(tables):
        raise CatalogueError(f"report {spec.id!r}: two inputs fill the same dataset table: {list(spec.input_models)}")


def parse_catalogue(document: object) -> dict[str, ReportSpec]:
    if not isinstance(document, dict) or not isinstance(document.get("reports"), list):
        raise CatalogueError("the catalogue must be a mapping with a list under 'reports'")
    specs: dict[str, ReportSpec] = {}
    for position, entry in enumerate(document["reports"], start=1):
        spec = parse_entry(entry, position)
        if spec.id in specs:
            raise CatalogueError(f"report {spec.id!r} is declared twice")
        specs[spec.id] = spec
    return specs


def load_catalogue(path: Path = CATALOGUE_PATH) -> dict[str, ReportSpec]:
    """Every report of the catalogue by id; raises CatalogueError naming the bad entry."""
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not valid YAML: {exc}") from exc
    return parse_catalogue(document)
