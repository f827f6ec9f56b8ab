"""`list_models`, `route_model` and `chat` through an in-memory MCP client. The backends are a local
HTTP server speaking the OpenAI and Anthropic wire formats (tests/router/wire_server.py; no API keys
exist here); the real-engine version of these calls is in tests/integration/test_router_vllm.py."""

from __future__ import annotations

from contextlib import asynccontextmanager

import mcp
import pytest

from server.app import build_server
from server.settings import load_settings
from tests.router.wire_server import wire_server


@pytest.fixture(scope="module")
def wire():
    with wire_server() as url:
        yield url


@asynccontextmanager
async def connect(wire: str):
    backends = [
        {"name": "cheap", "kind": "openai", "model": "ok", "replicas": [f"{wire}/v1"], "quality": 0.4,
         "price_in_per_mtok": 0.5, "price_out_per_mtok": 1.0, "context_length": 4096},
        {"name": "claude", "kind": "anthropic", "model": "ok", "replicas": [wire], "quality": 0.9,
         "price_in_per_mtok": 3.0, "price_out_per_mtok": 15.0, "context_length": 100000, "capabilities": ["json"]},
    ]  # fmt: skip
    settings = load_settings(**{"router.backends": backends, "router.role_budgets_usd": {"admin": 1.0}})
    server = build_server(settings, transport="memory")
    try:
        async with mcp.Client(server) as c:
            yield c
    finally:
        await server.state.aclose()


def _msgs(text: str = "hi") -> list[dict]:
    return [{"role": "user", "content": text}]


async def test_list_models_shows_prices_and_replicas(wire):
    async with connect(wire) as client:
        res = await client.call_tool("list_models", {})
        assert not res.is_error
        models = {m["name"]: m for m in res.structured_content["models"]}
        assert models["claude"]["price_out_per_mtok"] == 15.0 and models["cheap"]["replicas"][0]["healthy"]
        assert "cheap (openai, hosted" in res.content[0].text


async def test_route_model_explains_the_decision(wire):
    async with connect(wire) as client:
        res = await client.call_tool("route_model", {"messages": _msgs(), "json_output": True})
        d = res.structured_content["decision"]
        assert d["model"] == "claude"
        assert next(f for f in d["filters"] if f["name"] == "capabilities")["removed"] == {"cheap": "lacks json"}
        assert "filtered out: capabilities: cheap (lacks json)" in res.content[0].text


async def test_chat_returns_answer_usage_and_spend(wire):
    async with connect(wire) as client:
        res = await client.call_tool("chat", {"messages": _msgs(), "model": "cheap", "max_tokens": 20})
        assert not res.is_error, res.content
        out = res.structured_content
        assert out["result"]["choices"] == ["alpha beta gamma"]
        assert out["caller_spend"]["requests"] == 1
        assert out["role_budget_left_usd"] == pytest.approx(1.0 - out["result"]["usage"]["cost_usd"])
        assert res.content[0].text.startswith("alpha beta gamma")


async def test_caller_mistakes_are_tool_errors_that_say_what_to_fix(wire):
    async with connect(wire) as client:
        res = await client.call_tool("chat", {"messages": _msgs(), "policy": "magic"})
        assert res.is_error and "policy" in res.content[0].text
        res = await client.call_tool("route_model", {"messages": _msgs("word " * 5000), "model": "cheap"})
        assert res.is_error and "context 4096" in res.content[0].text
        res = await client.call_tool("chat", {"messages": [{"role": "user", "content": [{"type": "audio"}]}]})
        assert res.is_error and "type must be 'text' or 'image_url'" in res.content[0].text
        res = await client.call_tool("route_model", {"messages": _msgs(), "policy": "cascade"})
        assert res.is_error and "ogmux router train" in res.content[0].text
