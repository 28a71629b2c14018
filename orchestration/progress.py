"""A plain-text progress bar for long commands (stdlib only).

On a terminal the bar redraws in place; in a log or a pipe (CI, cron) each step is its own line,
so the output stays readable where a carriage return would not be.
"""

from __future__ import annotations

import sys
from typing import TextIO

WIDTH = 30


def render(done: int, total: int, label: str = "") -> str:
    """`[#########---------]  3/9  label` — the bar for `done` of `total` steps."""
    filled = WIDTH * done // total if total else WIDTH
    return f"[{'#' * filled}{'-' * (WIDTH - filled)}] {done:>{len(str(total))}}/{total}  {label}".rstrip()


class ProgressBar:
    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()

    def update(self, done: int, label: str = "") -> None:
        line = render(done, self.total, label)
        if self.interactive:
            end = "\n" if done >= self.total else ""
            self.stream.write(f"\r\033[K{line}{end}")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
