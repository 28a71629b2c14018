"""dbt docs show who reads the marts: every catalogue report and the BI role are exposures whose
dependencies equal what they really read, so lineage cannot drift from the catalogue."""

from __future__ import annotations

import json

from reports.catalogue import load_catalogue


def _manifest() -> dict:
    from orchestration.dbt_project import dbt_project  # parsed when the session started (tests/conftest.py)

    return json.loads(dbt_project.manifest_path.read_text())


def _model_names(unique_ids: list[str]) -> set[str]:
    return {unique_id.split(".")[-1] for unique_id in unique_ids if unique_id.startswith("model.")}


def test_every_report_is_an_exposure_on_the_marts_it_reads():
    exposures = {e["name"]: e for e in _manifest()["exposures"].values()}
    for spec in load_catalogue().values():
        exposure = exposures[f"report_{spec.id}"]
        read = {key.split("/")[1] for key in spec.upstream if not key.startswith("ml/")}  # dbt models
        assert _model_names(exposure["depends_on"]["nodes"]) == read, spec.id
        assert exposure["label"] == spec.title


def test_the_bi_exposure_covers_every_mart():
    manifest = _manifest()
    marts = {n["name"] for n in manifest["nodes"].values()
             if n["resource_type"] == "model" and n["config"].get("schema") == "marts"}
    bi = next(e for e in manifest["exposures"].values() if e["name"] == "bi_marts")
    assert _model_names(bi["depends_on"]["nodes"]) == marts
