"""A report is declared once (reports/catalogue.yaml); the test fails while any piece found by
convention is missing (input model, builder, suite with a check per input, template) or when a
piece belongs to no report, and checks that the lineage derived from dbt is the one Dagster draws.
No warehouse needed: the dbt manifest and the definitions only."""

from __future__ import annotations

import dagster as dg
import pytest

from expectations.report_suites import SUITES
from reports.builders import BUILDERS
from reports.catalogue import CatalogueError, ReportSpec, load_catalogue, parse_catalogue
from reports.declarations import declaration_problems
from reports.lineage import dbt_manifest, input_relations


def test_every_report_is_complete_and_nothing_is_left_over():
    assert declaration_problems(load_catalogue(), BUILDERS, SUITES, dbt_manifest()) == []


def test_a_missing_or_orphaned_piece_is_named():
    catalogue = load_catalogue()
    renamed = ReportSpec("weekly_digest", "Weekly digest", "internal", "weekly", ("pdf",),
                         ("rpt_weekly_digest__signups",), ("ops@example.org",))
    specs = {**{k: v for k, v in catalogue.items() if k != "feature_adoption"}, renamed.id: renamed}
    problems = declaration_problems(specs, BUILDERS, {**SUITES, "weekly_digest": SUITES["feature_adoption"]},
                                    dbt_manifest())
    assert problems == [
        "report 'weekly_digest': input model 'rpt_weekly_digest__signups' is not a dbt model in schema report_inputs",
        "report 'weekly_digest': no builder build_weekly_digest in reports/builders",
        "report 'weekly_digest': input 'signups' has no check in suite_weekly_digest",
        "report 'weekly_digest': suite_weekly_digest checks 'daily', which is not one of its inputs",
        "report 'weekly_digest': suite_weekly_digest checks 'features', which is not one of its inputs",
        "builder build_feature_adoption belongs to no catalogue report",
        "suite suite_feature_adoption belongs to no catalogue report",
        "input model rpt_feature_adoption__daily is read by no catalogue report",
        "input model rpt_feature_adoption__features is read by no catalogue report",
    ]


def test_an_input_is_a_dbt_model_named_after_its_report():
    entry = {"id": "x", "title": "X", "audience": "internal", "schedule": "daily", "formats": ["pdf"],
             "recipients": ["a@example.org"]}
    with pytest.raises(CatalogueError, match="input 'rpt_platform_stats__activity' must be named rpt_x__<table>"):
        parse_catalogue({"reports": [{**entry, "inputs": ["rpt_platform_stats__activity"]}]})
    with pytest.raises(CatalogueError, match="input 'rpt_x__activity' has no dbt model at .*rpt_x__activity.sql"):
        parse_catalogue({"reports": [{**entry, "inputs": ["rpt_x__activity"]}]})
    with pytest.raises(CatalogueError, match="upstream is derived"):
        parse_catalogue({"reports": [{**entry, "inputs": ["rpt_shared__signups"], "upstream": ["marts/x"]}]})
    spec = parse_catalogue({"reports": [{**entry, "inputs": ["rpt_shared__signups", "rpt_shared__funnel"]}]})["x"]
    assert spec.inputs == ("signups", "funnel")


def test_lineage_comes_from_dbt_and_is_the_graph_dagster_draws():
    from orchestration.definitions import defs
    from orchestration.defs.reports import report_input_key

    deps = {spec.key: {dep.asset_key for dep in spec.deps} for spec in defs.resolve_all_asset_specs()}
    catalogue = load_catalogue()
    for spec in catalogue.values():
        models = {dg.AssetKey(key.split("/")) for key in input_relations(spec.input_models)}
        assert deps[report_input_key(spec.id)] == models, spec.id
        read = set().union(*(deps[model] for model in models))
        assert read == {dg.AssetKey(key.split("/")) for key in spec.upstream}, spec.id
    usage = catalogue["usage_summary"].upstream
    assert "intermediate/int_account_names" in usage and "ml/limit_projections" in usage
    assert catalogue["user_acquisition"].upstream == ("marts/fct_funnel_daily", "marts/fct_signups_daily")
