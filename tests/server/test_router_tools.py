"""`list_models`, `route_model` and `chat` through an in-memory MCP client. The backends are a local
HTTP server speaking the OpenAI and Anthropic wire formats (tests/router/wire_server.py; no API keys
exist here); the real-engine version of these calls is in tests/integration/test_router_vllm.py."""

from __future__ import annotations

from contextlib import asynccontextmanager
from itertools import pairwise

import mcp
import numpy as np
import pytest

from ogmux.router.backends import Delta
from ogmux.router.calibration import fit_threshold
from ogmux.router.quality import QualityPredictor
from ogmux.router.types import ToolCall
from ogmux.server.app import build_server
from ogmux.server.context import AppState, ToolContext
from ogmux.server.mcp_tools.chat import ARGUMENTS_SHOWN, StreamProgress, _choice
from ogmux.server.principal import principal_for
from ogmux.server.settings import load_settings
from tests.router.wire_server import BODIES, TOOL_CALLS, wire_server


@pytest.fixture(scope="module")
def wire():
    with wire_server() as url:
        yield url


@asynccontextmanager
async def connect(wire: str, *extra: dict, **router: object):
    backends = [*extra,
        {"name": "cheap", "kind": "openai", "model": "ok", "replicas": [f"{wire}/v1"], "quality": 0.4,
         "price_in_per_mtok": 0.5, "price_out_per_mtok": 1.0, "context_length": 4096},
        {"name": "claude", "kind": "anthropic", "model": "ok", "replicas": [wire], "quality": 0.9,
         "price_in_per_mtok": 3.0, "price_out_per_mtok": 15.0, "context_length": 100000, "capabilities": ["json"]},
    ]  # fmt: skip
    settings = load_settings(
        **{"router.backends": backends, "router.role_budgets_usd": {"admin": 1.0}},
        **{f"router.{k}": v for k, v in router.items()},
    )
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


async def test_route_model_carries_the_cascade_guarantee_and_its_calibration(wire, tmp_path):
    hard = ["prove that the integral of this series converges", "derive the closed form of the recurrence"]
    easy = ["say hello to my friend", "what colour is the sky today"]
    predictor = QualityPredictor().fit([p + f" {i}" for i in range(30) for p in hard + easy], [1, 1, 0, 0] * 30)
    prompts = [p + f" v{i}" for i in range(150) for p in hard + easy]
    weak_failed = np.array([1, 1, 0, 0] * 150) & (np.random.default_rng(0).random(600) < 0.9)
    calibration = fit_threshold(
        predictor.predict_batch(prompts), weak_failed.astype(int), alpha=0.1, delta=0.1,
        source="synthetic split", predictor_sha256=predictor.fingerprint(),
    )  # fmt: skip
    paths = {"predictor_path": predictor.save(tmp_path / "p.json"), "calibration_path": calibration.save(tmp_path / "c.json")}
    async with connect(wire, **paths) as client:
        res = await client.call_tool("route_model", {"messages": _msgs(easy[0] + " v999"), "policy": "cascade"})
        g = res.structured_content["decision"]["guarantee"]
        assert (g["alpha"], g["delta"], g["escalated"], g["calibration_source"]) == (0.1, 0.1, False, "synthetic split")
        assert res.structured_content["decision"]["model"] == "cheap"
        assert "guarantee (ltt_risk): failure rate among non-escalated ≤ 0.1 with probability ≥ 0.9" in res.content[0].text
        res = await client.call_tool("route_model", {"messages": _msgs(hard[0] + " v999"), "policy": "cascade"})
        assert res.structured_content["decision"]["guarantee"]["escalated"]
        assert res.structured_content["decision"]["model"] == "claude"


async def test_images_need_a_vision_model_and_reach_anthropic_as_image_blocks(wire):
    image = [{"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]
    async with connect(wire) as client:
        res = await client.call_tool("route_model", {"messages": [{"role": "user", "content": image}]})
        assert res.is_error and "vision" in res.content[0].text
    seeing = {"name": "eyes", "kind": "anthropic", "model": "ok", "replicas": [wire], "capabilities": ["vision"]}
    async with connect(wire, seeing) as client:
        res = await client.call_tool("chat", {"messages": [{"role": "user", "content": image}]})
        assert not res.is_error and res.structured_content["result"]["model"] == "eyes"
    blocks = BODIES[-1]["messages"][0]["content"]
    assert blocks[0] == {"type": "text", "text": "what is this?"}
    assert blocks[1] == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}


async def test_chat_returns_answer_usage_and_spend(wire):
    async with connect(wire) as client:
        res = await client.call_tool("chat", {"messages": _msgs(), "model": "cheap", "max_tokens": 20})
        assert not res.is_error, res.content
        out = res.structured_content
        assert out["result"]["choices"] == ["alpha beta gamma"]
        assert out["caller_spend"]["requests"] == 1
        assert out["role_budget_left_usd"] == pytest.approx(1.0 - out["result"]["usage"]["cost_usd"])
        assert res.content[0].text.startswith("alpha beta gamma")


async def test_streamed_chat_reports_progress_up_to_completion(wire):
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with connect(wire) as client:
        args = {"messages": _msgs(), "model": "cheap", "max_tokens": 20}
        res = await client.call_tool("chat", args, progress_callback=on_progress)
        assert not res.is_error, res.content
    assert seen[0] == (1.0, 20.0, "streaming: 1 chunk") and seen[-1] == (20.0, 20.0, "done: 3 chunks")
    assert all(a[0] < b[0] for a, b in pairwise(seen))


async def test_stream_progress_sends_at_most_one_notification_per_interval_and_the_last():
    sent: list[tuple[float, float | None, str | None]] = []

    async def record(done: float, total: float | None = None, message: str | None = None) -> None:
        sent.append((done, total, message))

    settings = load_settings()
    ctx = ToolContext(principal_for(settings, "p", "admin"), AppState(settings), progress=record)
    now = [0.0]
    progress = StreamProgress(ctx, total=8.0, interval_s=0.25, clock=lambda: now[0])
    for _ in range(7):  # a chunk every 0.1 s: notified at 0.0, 0.3, 0.6 s (chunks 1, 4, 7)
        await progress.on_delta(Delta(text="x"))
        now[0] += 0.1
    await progress.finish()
    assert [d for d, _, _ in sent] == [1.0, 4.0, 7.0, 8.0]
    assert sent[-1] == (8.0, 8.0, "done: 7 chunks") and all(t == 8.0 for _, t, _ in sent)


async def test_stream_progress_ends_without_repeating_a_value_already_sent():
    sent: list[float] = []

    async def record(done: float, total: float | None = None, message: str | None = None) -> None:
        sent.append(done)

    settings = load_settings()
    ctx = ToolContext(principal_for(settings, "p", "admin"), AppState(settings), progress=record)
    progress = StreamProgress(ctx, total=2.0, interval_s=0.0, clock=lambda: 0.0)
    for _ in range(3):  # more chunks than the estimate: the last value is the chunk count, sent once
        await progress.on_delta(Delta(text="x"))
    await progress.finish()
    assert sent == [1.0, 2.0, 3.0]


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


async def test_chat_returns_tool_calls_and_takes_the_next_turn(wire):
    tooly = {"name": "tooly", "kind": "openai", "model": "tool", "replicas": [f"{wire}/v1"], "capabilities": ["tools"]}
    tools = [{"type": "function", "function": {"name": f, "parameters": {"type": "object"}}} for _, f, _ in TOOL_CALLS]
    seen: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message)

    async with connect(wire, tooly) as client:
        args = {"messages": _msgs("weather?"), "model": "tooly", "tools": tools}
        res = await client.call_tool("chat", args, progress_callback=on_progress)
        assert not res.is_error, res.content
        calls = res.structured_content["result"]["tool_calls"][0]
        assert [(c["id"], c["name"]) for c in calls] == [(c, f) for c, f, _ in TOOL_CALLS]
        assert 'tool call get_weather({"city": "Paris", "unit": "C"}) id=call_w' in res.content[0].text
        pieces = sum(1 + len(p) for _, _, p in TOOL_CALLS)  # every tool-call piece counts as a streamed chunk
        assert seen[-1] == f"done: {pieces} chunks"
        wire_calls = [{"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                      for c in calls]  # fmt: skip
        turn = [*args["messages"], {"role": "assistant", "content": None, "tool_calls": wire_calls}]
        turn += [{"role": "tool", "tool_call_id": c["id"], "content": "done"} for c in calls]
        res = await client.call_tool("chat", {**args, "messages": turn})
        assert not res.is_error, res.content
        res = await client.call_tool("chat", {**args, "messages": [*turn[:-1], {"role": "tool", "content": "done"}]})
        assert res.is_error and "tool_call_id" in res.content[0].text


def test_chat_rendering_truncates_long_tool_arguments():
    line = _choice("", [ToolCall(id="c1", name="store", arguments='{"text": "' + "x" * 500 + '"}')])
    assert line.startswith("tool call store({") and line.endswith("…) id=c1")
    assert len(line) == len("tool call store() id=c1") + ARGUMENTS_SHOWN
