"""A real `ogmux serve` subprocess over stdio, driven by the SDK's stdio client.

The client parses every line of the server's stdout as a protocol message, so any stray
print would fail these tests.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys

import mcp
import pytest
from mcp import StdioServerParameters

from tests.integration.procs import REPO


def _params(*extra: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "ogmux", "serve", *extra], cwd=str(REPO))


async def test_stdio_lists_and_calls() -> None:
    async with mcp.Client(_params()) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert "server_info" in tools
        result = await client.call_tool("server_info", {})
        assert not result.is_error
        assert result.structured_content["role"] == "admin"
        assert result.structured_content["principal"] == "local"


async def test_console_script_with_no_arguments_serves_stdio() -> None:
    ogmux = str(REPO / ".venv" / "bin" / "ogmux")
    params = StdioServerParameters(command=ogmux if (REPO / ".venv/bin/ogmux").exists() else "ogmux", args=[], cwd=str(REPO))
    async with mcp.Client(params) as client:
        result = await client.call_tool("server_info", {})
        assert not result.is_error



@pytest.mark.parametrize("stop", ["ctrl-c", "ctrl-d"])
def test_a_stdio_server_waiting_for_input_stops_on_ctrl_c_or_ctrl_d(stop: str) -> None:
    """The README's promise for `make run`: the waiting server stops on Ctrl-C (SIGINT) or Ctrl-D (end of input),
    though the SDK reads stdin in a worker thread."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ogmux", "serve"], cwd=str(REPO), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env={**os.environ, "OGMUX_AUDIT__SINK": "off"},
    )  # fmt: skip
    assert proc.stdin is not None and proc.stderr is not None
    try:
        ready, _, _ = select.select([proc.stderr], [], [], 60)
        assert ready and proc.stderr.readline().startswith(b"ogmux: stdio"), "no start-up line"
        if stop == "ctrl-c":
            proc.send_signal(signal.SIGINT)
        else:
            proc.stdin.close()
        # Ctrl-C: exit status 130, or ended by SIGINT itself when it lands before Python's handler can run
        # (rare, under load); a shell reports both as 130.
        assert proc.wait(timeout=30) in ((130, -signal.SIGINT) if stop == "ctrl-c" else (0,))
    finally:
        proc.kill()
        proc.wait()
