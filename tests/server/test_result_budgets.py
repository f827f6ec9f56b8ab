"""Every tool's text result on the bundled examples stays within the budget docs/tools.md states."""

from __future__ import annotations

import re
from pathlib import Path

import mcp
import pytest

from ogmux.server.app import build_server
from ogmux.tools.objectgraph.tokens import count_tokens
from tests.router.wire_server import wire_server
from tests.server.tool_examples import EXAMPLES, example_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "tools.md"


def _budgets() -> dict[str, int]:
    """The result-budget table of docs/tools.md: | `tool` | tokens | ... |."""
    rows = re.findall(r"^\| `(\w+)` \| ([\d,]+) \|", DOCS.read_text(encoding="utf-8"), re.MULTILINE)
    return {tool: int(tokens.replace(",", "")) for tool, tokens in rows}


@pytest.fixture(scope="module")
def wire():
    with wire_server() as url:
        yield url


def test_every_tool_has_a_stated_budget() -> None:
    assert set(_budgets()) == {tool for tool, _ in EXAMPLES}


async def test_results_stay_within_the_documented_budgets(wire: str) -> None:
    budgets = _budgets()
    server = build_server(example_settings(wire), transport="memory")
    try:
        async with mcp.Client(server) as client:
            for tool, args in EXAMPLES:
                result = await client.call_tool(tool, args)
                assert not result.is_error, (tool, result.content)
                text = result.content[0].text
                assert count_tokens(text) <= budgets[tool], (tool, count_tokens(text))
    finally:
        await server.state.aclose()
