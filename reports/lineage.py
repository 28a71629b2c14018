"""A report's lineage, read from the dbt manifest rather than typed by hand.

A report reads its input models (views in `report_inputs`); what those views read — marts, the
private intermediate tables, ml tables declared as dbt sources — is their dbt lineage. The
manifest turns both into the asset keys Dagster uses (`schema/table`, the translator's rule in
orchestration/defs/dbt_models.py): the input assets' dependencies, the partitions a report's
schedule waits for and the `upstream` list of every artifact manifest. Inputs that read another
report input or an ephemeral model are followed through to the relations underneath.
"""

from __future__ import annotations

import functools
import json

REPORT_INPUTS_SCHEMA = "report_inputs"  # dbt_project.yml, models/reports: +schema


@functools.cache
def dbt_manifest() -> dict:
    """The manifest the Dagster definitions are built from (prepared by the entry points, `make manifest`)."""
    from orchestration.dbt_project import dbt_project

    if not dbt_project.manifest_path.exists():
        raise FileNotFoundError(f"dbt manifest {dbt_project.manifest_path} not found: parse the dbt project first "
                                "with `make manifest` (python -m orchestration.dbt_project)")
    return json.loads(dbt_project.manifest_path.read_text())


def _model(manifest: dict, name: str) -> dict:
    found = [n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["name"] == name]
    if len(found) != 1:
        raise KeyError(f"dbt model {name!r} is not in the dbt manifest (dbt_project/models/reports/{name}.sql?)")
    return found[0]


def _relation(node: dict) -> str:
    return f"{node['config'].get('schema') or node['schema']}/{node['name']}"


def _is_read_through(node: dict) -> bool:
    """A parent that is not where data comes from: an ephemeral model or another report input."""
    return node["resource_type"] == "model" and (
        node["config"].get("materialized") == "ephemeral" or node["config"].get("schema") == REPORT_INPUTS_SCHEMA)


def _parents(manifest: dict, node: dict) -> set[str]:
    keys: set[str] = set()
    for unique_id in node["depends_on"]["nodes"]:
        parent = manifest["nodes"].get(unique_id) or manifest["sources"][unique_id]
        keys |= _parents(manifest, parent) if _is_read_through(parent) else {_relation(parent)}
    return keys


def input_relations(models: tuple[str, ...], manifest: dict | None = None) -> tuple[str, ...]:
    """The input models' own asset keys (`report_inputs/<model>`), in the catalogue's order."""
    manifest = dbt_manifest() if manifest is None else manifest
    return tuple(_relation(_model(manifest, name)) for name in models)


def upstream_of(models: tuple[str, ...], manifest: dict | None = None) -> tuple[str, ...]:
    """Asset keys of the tables the input models read (marts, ml, private intermediate), sorted."""
    manifest = dbt_manifest() if manifest is None else manifest
    keys: set[str] = set()
    for name in models:
        keys |= _parents(manifest, _model(manifest, name))
    return tuple(sorted(keys))
