"""The demo's figures for `make bench` (issue 13): installing the virtualenv, and `usage-analytics demo`
per stage.

- Install: `python -m venv`, `pip install --upgrade pip` and `pip install -e '.[dev]'` into a
  temporary directory, exactly the Makefile's bootstrap. The first install fills pip's cache
  (downloads); the figure is the second one, from the cache's wheels, as on a machine that has
  installed the project before (the download time depends on the network, not on the project).
- Demo: `usage-analytics demo` in its own process, on its own databases (`<BENCH_DATABASE>_demo`
  and `<BENCH_DATABASE>_demo_dagster`, a Dagster instance configured as `make` configures one) and
  its own LOCAL_DIR under the bench's work folder; each stage's time comes from the demo's own
  `demo-stages.json` (orchestration/demo_stages.py), so the bench and the demo's printout agree.
  The UI is not started (`--ui` would keep the process running); the daemon is not running either.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.hooks import Figure
from orchestration.demo_stages import STAGES
from orchestration.settings import PROJECT_ROOT

# Demo size per bench scale: `full` is the demo's own default.
DEMO_SIZE = {"small": {"accounts": 30, "days": 2}, "medium": {"accounts": 300, "days": 14},
             "full": {"accounts": 2000, "days": 90}}
INSTALL_GOAL_SECONDS = 180
DEMO_GOAL_SECONDS = 300


def _install_once(root: Path) -> float:
    began = time.perf_counter()
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{PROJECT_ROOT}[dev]"], check=True)
    return time.perf_counter() - began


def install_seconds() -> dict[str, float]:
    """Seconds of the Makefile's bootstrap into a temporary folder: first (cache filled) and from the cache."""
    times = {}
    for attempt in ("first", "cached"):
        with tempfile.TemporaryDirectory(prefix="uap-install-") as root:
            times[attempt] = _install_once(Path(root))
    return times


def _demo_environment(workdir: Path) -> dict[str, str]:
    """Databases and folders of the demo's own: nothing shared with the developer's `make demo`."""
    from bench.database import bench_database, fresh_dagster_storage, fresh_database
    from orchestration.dagster_instance import instance_yaml, storage_url

    base = bench_database()
    os.environ["BENCH_DATABASE"] = f"{base}_demo"
    try:
        url = fresh_database()
        dagster_url = storage_url(fresh_dagster_storage())
    finally:
        os.environ["BENCH_DATABASE"] = base
    home = workdir / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(instance_yaml(dagster_url))
    # the demo records where its history starts (LOCAL_DIR); a PARTITIONS_START the bench pinned for
    # its own history would give the demo months of empty partitions
    inherited = {k: v for k, v in os.environ.items() if k != "PARTITIONS_START"}
    return {**inherited, "WAREHOUSE_URL": url, "DAGSTER_HOME": str(home), "LOCAL_DIR": str(workdir / "local"),
            "ARTIFACTS_DIR": str(workdir / "local" / "artifacts")}


def demo_stage_seconds(scale: str, workdir: Path) -> dict:
    """One first-run demo at the scale's size: seconds per stage, the total, and the process wall time."""
    size = DEMO_SIZE[scale]
    workdir.mkdir(parents=True, exist_ok=True)
    env = _demo_environment(workdir)
    log = workdir / "demo.log"
    load_before = os.getloadavg()
    began = time.perf_counter()
    with log.open("w") as out:
        exit_code = subprocess.run(
            [sys.executable, "-m", "orchestration.cli", "demo", "--accounts", str(size["accounts"]),
             "--days", str(size["days"])], cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        ).returncode
    wall = time.perf_counter() - began
    stages_file = workdir / "local" / "demo-stages.json"
    if not stages_file.exists():
        raise RuntimeError(f"the demo exited with {exit_code} before recording its stages: see {log}")
    return {**json.loads(stages_file.read_text()), "exit_code": exit_code, "process_wall": wall, "log": str(log),
            "load_average_before": load_before, "load_average_after": os.getloadavg()}


def demo_figures(scale: str, workdir: Path, install: bool) -> tuple[dict[str, Figure], dict]:
    """The demo's figures (one run each: a demo is minutes long) and the details for results.json."""
    demo = demo_stage_seconds(scale, workdir / "demo")
    figures = {f"demo_{stage}": Figure(f"Demo: {label}", "s", [demo["stages"][stage]])
               for stage, label in STAGES if stage in demo["stages"]}
    figures.update({f"demo_cpu_{stage}": Figure(f"Demo CPU: {label}", "s", [demo["cpu_seconds"][stage]])
                    for stage, label in STAGES if stage in demo.get("cpu_seconds", {})})
    load = ", ".join(f"{x:.1f}" for x in demo["load_average_before"])
    notes = [f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average (1, 5, 15 min) before the run: {load}"]
    if demo["exit_code"]:
        notes.append(f"the demo exited with {demo['exit_code']} (a failed run or check: see details.demo.log)")
    figures["demo_total"] = Figure("Demo: total (code load excluded)", "s", [demo["total"]],
                                   goal=f"≤ {DEMO_GOAL_SECONDS} s at full scale", notes=notes)
    figures["demo_process_wall"] = Figure("Demo: process wall, code load included", "s", [demo["process_wall"]])
    details = {"demo": demo}
    if install:
        times = install_seconds()
        figures["install_first"] = Figure("Virtualenv install, first (downloads into pip's cache)", "s",
                                          [times["first"]])
        figures["install_cached"] = Figure("Virtualenv install from pip's cache", "s", [times["cached"]],
                                           goal=f"≤ {INSTALL_GOAL_SECONDS} s")
        details["install"] = times
    return figures, details
