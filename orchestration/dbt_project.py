"""The dbt project as dagster-dbt sees it, and the explicit step that parses it into its manifest.

Dagster defines the dbt assets from `dbt_project/target/manifest.json`, so a model added or changed
since the last parse is unknown to Dagster (or known with old dependencies) until the project is
parsed again. Loading the definitions never parses: the manifest is prepared first, by
`python -m orchestration.dbt_project` (`make manifest`, which `make ui`, `make soak` and `make bench`
run first; a container image runs it at build time), by the `usage-analytics` CLI when it starts,
and by the test session when it starts. Each parses only when the manifest is missing or older than
a project file. Parsing needs no database connection and takes a few seconds.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from dagster_dbt import DbtProject

from orchestration.settings import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
PARTIAL_PARSE = "partial_parse.msgpack"
# What a parse reads: a change to any of these can change the manifest.
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "dependencies.yml")
PROJECT_FOLDERS = ("models", "macros", "tests", "seeds", "snapshots", "analyses")

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def installed_dbt() -> str:
    """The dbt executable installed with this interpreter (the virtualenv's or the image's), which
    need not be on PATH when a command calls .venv/bin/python directly; else whatever PATH finds."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else "dbt"


def manifest_is_stale(project: DbtProject = dbt_project) -> bool:
    """No manifest yet (fresh checkout), or a project file changed after it was written."""
    if not project.manifest_path.exists():
        return True
    written = project.manifest_path.stat().st_mtime
    sources = [project.project_dir / name for name in PROJECT_FILES]
    for folder in PROJECT_FOLDERS:
        sources.extend(p for p in (project.project_dir / folder).rglob("*") if p.is_file())
    return any(p.exists() and p.stat().st_mtime > written for p in sources)


def prepare_manifest(project: DbtProject = dbt_project) -> None:
    """Parse the project and swap the new manifest in atomically.

    dbt writes into a folder of its own (seeded with the project's partial-parse state, so an
    unchanged project parses fast); the manifest then replaces the old one in one rename, so a
    process loading the definitions meanwhile reads the old manifest or the new, never half of one.
    """
    from orchestration.dagster_internals import InstalledDbtCliResource

    target = project.project_dir / project.target_path
    target.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".parse-", dir=target))
    try:
        if (target / PARTIAL_PARSE).exists():
            shutil.copyfile(target / PARTIAL_PARSE, scratch / PARTIAL_PARSE)
        dbt = InstalledDbtCliResource(project_dir=project, dbt_executable=installed_dbt())
        dbt.cli(["parse", "--quiet"], target_path=scratch).wait()
        os.replace(scratch / PARTIAL_PARSE, target / PARTIAL_PARSE)
        os.replace(scratch / "manifest.json", project.manifest_path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def prepare_manifest_if_stale(project: DbtProject = dbt_project) -> bool:
    """Parse the project when its manifest is missing or stale; whether it parsed."""
    if not manifest_is_stale(project):
        return False
    prepare_manifest(project)
    return True


def main() -> int:
    parsed = prepare_manifest_if_stale()
    print(f"dbt manifest {'parsed' if parsed else 'up to date'}: {dbt_project.manifest_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
