"""`python -m soak.child_run '{"job": ..., "tags": {...}}'`: one run in a process the soak can kill.

The instance is DAGSTER_HOME's (the soak's), the warehouse and source those of WAREHOUSE_URL and
SOURCE_URL, as for any run worker.
"""

from __future__ import annotations

import json
import sys

import dagster as dg


def main(argv: list[str]) -> int:
    request = json.loads(argv[0])
    from orchestration.definitions import defs
    from soak.runs import QUIET

    tags = dict(request["tags"])
    partition = tags.pop("dagster/partition", None)
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def(request["job"]).execute_in_process(
            instance=instance, tags=tags, partition_key=partition, raise_on_error=False, run_config=QUIET)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
