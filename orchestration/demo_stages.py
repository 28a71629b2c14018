"""The demo's stages and how long each takes: announced at the start, timed as each ends.

A first-time user of `make demo` should know how long to wait and where the time goes. The
expected durations are the demo's measured stage times on a quiet 2-core machine (BENCHMARKS.md,
"Demo stages", `make bench ONLY=demo`), scaled to the demo's size. Each run writes its own stage
times to `LOCAL_DIR/demo-stages.json`, which the benchmark reads.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

# (stage id, what the user sees)
STAGES: tuple[tuple[str, str], ...] = (
    ("simulate", "simulate the source product"),
    ("snapshots", "hourly snapshots + fct_usage_hourly"),
    ("rollups", "daily and monthly rollups"),
    ("marts", "dimensions and business marts"),
    ("models", "models and forecasts (ml_job)"),
    ("reports", "every report's latest period"),
)
STAGE_IDS = tuple(stage for stage, _ in STAGES)

# Seconds per stage on a quiet 2-core machine: (fixed cost of the stage's runs: Dagster, dbt and
# process start-up; cost that grows with the demo's size, at the default size of 2,000 accounts over
# 90 days). Measured from a fresh clone on a quiet machine (BENCHMARKS.md, "Demo stages"): 255 s in
# all without Debian's libharfbuzz-subset0 (weasyprint then subsets the PDFs' fonts with fontTools:
# reports 86 s), 170 s with it (reports 32 s); the estimate sits between the two. Reports: the
# internal reports plus the demo's 20 per-account summaries (0.7 s of CPU each with the library,
# 1.7 s without).
REFERENCE_SECONDS: dict[str, tuple[float, float]] = {
    "simulate": (1.0, 10.0), "snapshots": (4.0, 75.0), "rollups": (8.0, 8.0), "marts": (10.0, 10.0),
    "models": (10.0, 12.0), "reports": (25.0, 35.0),
}
REFERENCE_ACCOUNTS, REFERENCE_DAYS = 2000, 90
# Stages whose work grows with accounts x days; the others grow with accounts only.
PER_ACCOUNT_DAY = {"simulate", "snapshots", "rollups"}


def expected_seconds(accounts: int, days: int) -> dict[str, float]:
    """A first run's expected seconds per stage: each stage's fixed cost plus its size-dependent
    cost scaled linearly to the demo's size.

    Reports are scaled by accounts too, although the sample caps the per-account summaries: an
    over-estimate for large demos, which is the safe side of a promise.
    """
    expected = {}
    for stage in STAGE_IDS:
        fixed, variable = REFERENCE_SECONDS[stage]
        size = accounts / REFERENCE_ACCOUNTS * (days / REFERENCE_DAYS if stage in PER_ACCOUNT_DAY else 1)
        expected[stage] = fixed + variable * size
    return expected


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (dbt, render workers): on a machine
    shared with other work, what the demo itself spent, which wall time does not say.
    PostgreSQL's own work is not in it (the server is not a child of the demo)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def format_duration(seconds: float) -> str:
    """`42 s`, `3 min 05 s`: what a person reads at a glance."""
    whole = round(seconds)
    return f"{whole} s" if whole < 60 else f"{whole // 60} min {whole % 60:02d} s"


@dataclass
class StageClock:
    """Times the demo's stages; prints each one's duration as it ends, and a summary."""

    expected: dict[str, float]
    stream: TextIO
    seconds: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    began: float = field(default_factory=time.perf_counter)
    cpu_mark: float = field(default_factory=cpu_seconds)  # CPU time at the last stage boundary

    def announce(self, first_run: bool) -> None:
        total = sum(self.expected.values())
        parts = ", ".join(f"{stage} {format_duration(s)}" for stage, s in self.expected.items())
        if first_run:
            self.stream.write(f"Expected duration: about {format_duration(total)} on a quiet 2-core machine "
                              f"({parts}).\n")
        else:
            self.stream.write("Expected duration: well under a first run's "
                              f"{format_duration(total)}: only the hours since the last run are built.\n")

    @contextmanager
    def stage(self, stage: str) -> Iterator[None]:
        """Time the block as `stage` (one of STAGE_IDS); a stage entered twice adds up."""
        if stage not in STAGE_IDS:
            raise ValueError(f"unknown demo stage {stage!r}; the stages are {', '.join(STAGE_IDS)}")
        began, self.cpu_mark = time.perf_counter(), cpu_seconds()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - began)

    def add(self, stage: str, seconds: float) -> None:
        """`seconds` of wall time to `stage`, with the CPU time spent since the last boundary."""
        now = cpu_seconds()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds
        self.cpu[stage] = self.cpu.get(stage, 0.0) + now - self.cpu_mark
        self.cpu_mark = now

    def report(self, stage: str) -> None:
        """The line printed as `stage` ends: its time next to the expected one."""
        label = dict(STAGES)[stage]
        self.stream.write(f"== {stage} ({label}): {format_duration(self.seconds.get(stage, 0.0))} "
                          f"(expected ~{format_duration(self.expected[stage])}; CPU {self.cpu.get(stage, 0.0):.0f} s); "
                          f"{format_duration(self.elapsed())} elapsed\n")

    def elapsed(self) -> float:
        return time.perf_counter() - self.began

    def summary_lines(self) -> list[str]:
        return [f"  {stage:<10} {format_duration(self.seconds[stage]):>10}" for stage in STAGE_IDS
                if stage in self.seconds] + [f"  {'total':<10} {format_duration(self.elapsed()):>10}"]

    def write(self, path: Path, params: dict) -> None:
        """The stage times as JSON (the benchmark's input)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"params": params, "stages": {k: round(v, 3) for k, v in self.seconds.items()},
                                    "cpu_seconds": {k: round(v, 3) for k, v in self.cpu.items()},
                                    "total": round(self.elapsed(), 3)}, indent=2) + "\n")
