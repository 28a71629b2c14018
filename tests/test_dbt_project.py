"""The explicit dbt manifest step (orchestration/dbt_project.py) on a copy of the dbt project, so the
shared project's manifest is never touched: a missing or outdated manifest is parsed, a current one
is left alone."""

import os
import shutil
import time

from dagster_dbt import DbtProject

from orchestration.dbt_project import DBT_PROJECT_DIR, manifest_is_stale, prepare_manifest_if_stale


def test_the_manifest_is_parsed_when_missing_or_outdated_and_only_then(tmp_path):
    copy = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    project = DbtProject(project_dir=copy, profiles_dir=copy)

    assert manifest_is_stale(project)
    assert prepare_manifest_if_stale(project)
    assert project.manifest_path.exists() and not manifest_is_stale(project)
    assert [p.name for p in project.manifest_path.parent.iterdir() if p.name.startswith(".parse-")] == []

    written = project.manifest_path.stat().st_mtime
    assert not prepare_manifest_if_stale(project)
    assert project.manifest_path.stat().st_mtime == written

    model = next((copy / "models").rglob("*.sql"))
    os.utime(model, (written + 1, written + 1))  # the model edited after the parse
    assert manifest_is_stale(project)
    time.sleep(max(0.0, written + 1.1 - time.time()))  # the next manifest is written after that edit
    assert prepare_manifest_if_stale(project)
    assert not manifest_is_stale(project)
