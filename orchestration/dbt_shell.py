"""Run dbt by hand with the platform's connection: `make dbt ARGS="build -s fct_usage_daily"`."""

import os
import subprocess
import sys

from orchestration.settings import PROJECT_ROOT
from orchestration.warehouse.connection import dbt_env, warehouse_url


def main() -> int:
    env = {**os.environ, **dbt_env(warehouse_url())}
    project = PROJECT_ROOT / "dbt_project"
    args = sys.argv[1:] or ["--help"]
    # dbt is installed beside this interpreter (the project's virtualenv), which need not be on PATH.
    dbt = os.path.join(os.path.dirname(sys.executable), "dbt")
    return subprocess.call(
        [dbt, *args, "--project-dir", str(project), "--profiles-dir", str(project)], env=env
    )


if __name__ == "__main__":
    sys.exit(main())
