"""dbt's own unit tests (`unit_tests:` in the model yml files) run against the real warehouse.

Scheduled runs exclude them (see dbt_build_args); this is where they run.
"""

from __future__ import annotations

import os
import subprocess

from orchestration.dbt_project import DBT_PROJECT_DIR, installed_dbt
from orchestration.warehouse.connection import dbt_env
from tests.conftest import reset_warehouse


def test_dbt_unit_tests_pass(warehouse_url: str, tmp_path):
    reset_warehouse(warehouse_url)  # the raw tables the models' sources point at
    result = subprocess.run(
        [installed_dbt(), "test", "--select", "test_type:unit", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(tmp_path / "target")],
        env={**os.environ, **dbt_env(warehouse_url)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:]
