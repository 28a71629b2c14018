"""What the figures were measured on: they mean little without it (2 shared cores vs 16 quiet ones)."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

import psycopg


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def describe(url: str) -> dict:
    with psycopg.connect(url) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
        shared_buffers = conn.execute("SHOW shared_buffers").fetchone()[0]
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": server,
        "postgresql_shared_buffers": shared_buffers,
        "dagster": metadata.version("dagster"),
        "dbt_core": metadata.version("dbt-core"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
