"""A real third-party client: the MCP Inspector in CLI mode, over stdio."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.integration.procs import REPO, node_peer, peers_installed

pytestmark = [
    pytest.mark.npm,
    pytest.mark.skipif(not peers_installed(), reason="npm test peers not installed (make test installs them)"),
]

INSPECTOR = "@modelcontextprotocol/inspector/clients/launcher/build/index.js"


def _inspect(*args: str) -> dict:
    proc = subprocess.run(
        [*node_peer(INSPECTOR), "--cli", "--connect-timeout", "120000", sys.executable, "-m", "ogmux", "serve", *args],
        capture_output=True, text=True, check=False, timeout=120, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_inspector_lists_tools() -> None:
    out = _inspect("--method", "tools/list")
    names = {t["name"] for t in out["tools"]}
    assert "server_info" in names
    info = next(t for t in out["tools"] if t["name"] == "server_info")
    assert info["annotations"]["readOnlyHint"] is True
    assert "outputSchema" in info


def test_inspector_calls_a_tool() -> None:
    out = _inspect("--method", "tools/call", "--tool-name", "server_info")
    assert out.get("isError") in (None, False)
    assert out["structuredContent"]["principal"] == "local"
