"""One Dagster backfill in its own process, so its peak memory is its own.

`python -m bench.backfill_child START END INSTANCE_DIR` runs every layer for the hours [START, END)
with `orchestration.pipeline.run_layers` (one single-run backfill per layer, as `make demo` and the
UI do) against WAREHOUSE_URL, records runs in a fresh SQLite Dagster instance in INSTANCE_DIR (as a
deployment's DAGSTER_HOME would), and prints one JSON line: seconds per layer and peak RSS of this
process and of its children (the dbt processes).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import datetime


def main(start: str, end: str, instance_dir: str) -> dict:
    began = time.perf_counter()
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.pipeline import run_layers

    loaded = time.perf_counter()
    with dg.DagsterInstance.local_temp(tempdir=instance_dir) as instance:
        runs = run_layers(defs, instance, datetime.fromisoformat(start), datetime.fromisoformat(end))
    return {
        "code_load_seconds": loaded - began,
        "layers": [{"job": r.job, "seconds": r.seconds, "success": r.success,
                    "first_partition": r.first_partition, "last_partition": r.last_partition} for r in runs],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_rss_children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
