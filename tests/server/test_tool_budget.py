"""What ogmux's tool surface costs a model, measured on `tools/list` as the in-memory SDK client receives it."""

from __future__ import annotations

import json

import mcp
import pytest

from ogmux.server.app import build_server
from ogmux.server.cli import main
from ogmux.server.schemas import tool_costs
from ogmux.server.settings import load_settings
from ogmux.tools.objectgraph.tokens import count_tokens

# Model-visible tokens (cl100k of name + description + inputSchema) each tool may cost; the sum is the
# surface budget. Raising one means lowering another: the total stays at or under 2,500.
BUDGET = {
    "optimize_surrogate": 415,
    "chat": 320,
    "solve_milp": 312,
    "analyze_network": 286,
    "resolve_context": 286,
    "route_model": 258,
    "score_safety": 216,
    "safety_report": 204,
    "search_index": 117,
    "server_info": 45,
    "list_models": 41,
}
SURFACE_BUDGET = 2_500
LIST_BUDGET = 8_000  # the whole tools/list result, output schemas and annotations included
INSTRUCTIONS_BUDGET = 300


async def _listing() -> tuple[list[dict], str]:
    server = build_server(load_settings(None, **{"audit.sink": "off"}), transport="memory")
    async with mcp.Client(server) as client:
        listed = await client.list_tools()
        instructions = client.instructions or ""
    payload = listed.model_dump(mode="json", by_alias=True, exclude_none=True)
    return payload["tools"], instructions


def test_the_budget_table_sums_to_the_surface_budget() -> None:
    assert sum(BUDGET.values()) <= SURFACE_BUDGET


async def test_every_tool_stays_within_its_budget() -> None:
    tools, _ = await _listing()
    costs = {c.name: c.model_visible for c in tool_costs(tools)}
    assert set(costs) == set(BUDGET), "a tool was added or removed: give it a row in BUDGET"
    over = {name: (cost, BUDGET[name]) for name, cost in costs.items() if cost > BUDGET[name]}
    assert not over, f"tools over their model-visible token budget (cost, budget): {over}"


async def test_the_whole_tool_list_and_the_instructions_stay_within_budget() -> None:
    tools, instructions = await _listing()
    payload = json.dumps({"tools": tools}, separators=(",", ":"))
    assert count_tokens(payload) <= LIST_BUDGET
    assert 0 < count_tokens(instructions) <= INSTRUCTIONS_BUDGET


async def test_compact_schemas_keep_what_a_call_needs() -> None:
    tools = {t["name"]: t for t in (await _listing())[0]}
    search = tools["search_index"]["inputSchema"]
    assert search["required"] == ["query"] and search["properties"]["k"]["maximum"] == 50
    resolve = tools["resolve_context"]["inputSchema"]["properties"]
    assert resolve["level"]["enum"] == ["index", "dense", "full"] and ":requires" in resolve["follow"]["items"]["enum"]
    milp = tools["solve_milp"]["inputSchema"]["properties"]["model"]
    variable = milp["properties"]["variables"]["items"]
    assert variable["required"] == ["name"] and variable["properties"]["type"]["enum"] == ["continuous", "integer", "binary"]
    assert "null" in variable["properties"]["lower"]["type"]  # null = -infinity keeps its meaning
    assert '"title"' not in json.dumps([t["inputSchema"] for t in tools.values()])  # no argument is named so


def test_tools_cost_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tools", "--cost"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:] if line and line[0] != " "}
    assert set(BUDGET) <= set(rows)
    assert int(rows["total"][0]) == sum(int(rows[name][0]) for name in BUDGET) <= SURFACE_BUDGET
