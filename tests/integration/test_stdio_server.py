"""A real `ogmux serve` subprocess over stdio, driven by the SDK's stdio client.

The client parses every line of the server's stdout as a protocol message, so any stray
print would fail these tests.
"""

from __future__ import annotations

import sys

import mcp
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
