"""`usage-analytics demo --ui` with its port taken (e.g. by `make ui`): reported, not fought over.

Starting the web server itself costs the code location's load (tens of seconds on a loaded 2-core
machine); tests/test_ui_backfill.py already proves `dagster dev` serves these definitions."""

from __future__ import annotations

import socket

from orchestration.demo_ui import HOST, DemoUI


def test_a_taken_port_starts_no_second_ui(tmp_path, capsys):
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert DemoUI.start(port, tmp_path) is None
    assert f"Port {port} is in use" in capsys.readouterr().out
    assert not (tmp_path / "ui.log").exists()
