"""The Dagster UI beside `usage-analytics demo --ui` (what `make demo` runs).

The web server starts before the first run, so a first-time user watches the runs arrive instead
of waiting for the end. Its daemon (schedules, sensors, automation) starts only once the demo
has built everything: before that it would launch runs competing with the demo's own for the
same two cores. Both then keep running, as `make ui` would, until Ctrl-C.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from orchestration.settings import PROJECT_ROOT

HOST = "127.0.0.1"
WORKSPACE = PROJECT_ROOT / "workspace.yaml"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((HOST, port)) != 0


def _launch(tool: str, args: list[str], log: IO[bytes]) -> subprocess.Popen:
    """A Dagster command of this environment, its output to `log` (the terminal is the demo's)."""
    return subprocess.Popen([str(Path(sys.executable).with_name(tool)), *args], cwd=PROJECT_ROOT,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)


@dataclass
class DemoUI:
    port: int
    log_dir: Path
    processes: list[subprocess.Popen] = field(default_factory=list)
    logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @classmethod
    def start(cls, port: int, log_dir: Path) -> DemoUI | None:
        """Start the web server on `port` (DAGSTER_HOME's instance); None when the port is taken."""
        if not _port_free(port):
            print(f"Port {port} is in use (is `make ui` running already? the demo's runs show there too): "
                  "not starting another UI; --ui-port picks another port.")
            return None
        ui = cls(port, log_dir)
        ui._spawn("dagster-webserver", ["-w", str(WORKSPACE), "-h", HOST, "-p", str(port)], "ui.log")
        print(f"Dagster UI starting at {ui.url} (ready in about 15 s; log: {log_dir / 'ui.log'}): "
              "the demo's runs appear under Runs as they start.")
        return ui

    def _spawn(self, tool: str, args: list[str], log_name: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / log_name).open("ab")
        self.logs.append(log)
        self.processes.append(_launch(tool, args, log))

    def start_daemon(self) -> None:
        """Schedules, sensors and automation, as `make ui` runs them (log: daemon.log)."""
        self._spawn("dagster-daemon", ["run", "-w", str(WORKSPACE)], "daemon.log")

    def wait(self) -> None:
        """Until Ctrl-C, or until the web server exits on its own."""
        try:
            self.processes[0].wait()
        except KeyboardInterrupt:
            print()

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.logs:
            log.close()
