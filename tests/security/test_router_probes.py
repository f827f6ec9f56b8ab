"""A caller with a valid token against `chat`'s money: the role budget holds under concurrent calls, a
backend's usage report cannot refund it, and a stream cut after it started is charged for what arrived.

Backends are local HTTP servers speaking the OpenAI wire format (tests/router/wire_server.py, and below
a backend whose usage report lies); no hosted API key exists here."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager

import mcp
import numpy as np
import pytest

from ogmux.router import core
from ogmux.router.backends import Delta
from ogmux.router.calibration import fit_threshold
from ogmux.router.config import RouterConfig
from ogmux.router.core import Router
from ogmux.router.quality import QualityPredictor
from ogmux.router.tokens import count_tokens
from ogmux.router.types import ChatRequest
from ogmux.server.app import build_server
from ogmux.server.settings import load_settings
from tests.router.wire_server import QuietHandler, threaded_server, wire_server

DOLLAR_PER_TOKEN = 1e6  # price per 1M tokens: one output token costs $1


@pytest.fixture(scope="module")
def wire() -> Iterator[str]:
    with wire_server() as url:
        yield url


@contextmanager
def backend(respond: Callable[[dict], tuple[int, dict]]) -> Iterator[str]:
    """An OpenAI-format server answering each chat request body with `respond(body)` (status, JSON);
    yields its /v1 URL."""

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            status, answer = respond(json.loads(self.rfile.read(int(self.headers.get("content-length", 0)))))
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with threaded_server(Handler) as url:
        yield url + "/v1"


def lying_backend(usage: dict) -> AbstractContextManager[str]:
    """A backend answering every chat with `usage` as its token report."""
    msg = {"role": "assistant", "content": "four words of answer"}
    answer = {"id": "c", "object": "chat.completion", "created": 0, "model": "ok",
              "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}], "usage": usage}  # fmt: skip
    return backend(lambda body: (200, answer))


@asynccontextmanager
async def connect(url: str, model: str = "ok", budget: float = 10.0, *also: dict):
    backends = [{"name": "paid", "kind": "openai", "model": model, "replicas": [url], "context_length": 4096,
                 "price_in_per_mtok": DOLLAR_PER_TOKEN, "price_out_per_mtok": DOLLAR_PER_TOKEN}, *also]  # fmt: skip
    settings = load_settings(
        None, **{"audit.sink": "off", "router.backends": backends, "router.role_budgets_usd": {"admin": budget}}
    )
    server = build_server(settings, transport="memory")
    try:
        async with mcp.Client(server) as client:
            yield client
    finally:
        await server.state.aclose()


def _chat(max_tokens: int = 3) -> dict:
    return {"messages": [{"role": "user", "content": "hi"}], "max_tokens": max_tokens, "stream": False}


async def test_concurrent_chats_cannot_spend_past_the_role_budget(wire: str) -> None:
    # The router estimates a call at 8 prompt tokens (cl100k) + max_tokens = $11, so a $35 budget pays
    # for three calls; twelve at once all passed the budget check before any was charged.
    async with connect(f"{wire}/v1", budget=35.0) as client:
        results = await asyncio.gather(*[client.call_tool("chat", _chat()) for _ in range(12)])
    ok = [r for r in results if not r.is_error]
    refused = [r.content[0].text for r in results if r.is_error]
    assert len(ok) == 3 and len(refused) == 9, [r.content[0].text for r in results]
    assert all("budget" in text for text in refused), refused[0]
    # The backend reports 11 prompt tokens where the estimate counted 8: what is spent is what it reports.
    assert max(r.structured_content["caller_spend"]["cost_usd"] for r in ok) == pytest.approx(3 * 14.0)


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": -1_000_000, "completion_tokens": -1_000_000},
        {"prompt_tokens": 0, "completion_tokens": 0},
        {},
    ],
)
async def test_a_usage_report_cannot_refund_or_skip_the_budget(usage: dict) -> None:
    with lying_backend(usage) as url:
        async with connect(url, budget=1000.0) as client:
            res = await client.call_tool("chat", _chat(10))
    assert not res.is_error, res.content[0].text
    out = res.structured_content
    used = out["result"]["usage"]
    # A report below zero, or zero for a prompt and an answer that exist, is replaced by the router's own count.
    assert used["prompt_tokens"] > 0 and used["completion_tokens"] == count_tokens("four words of answer")
    assert used["cost_usd"] == pytest.approx(used["prompt_tokens"] + used["completion_tokens"])
    assert out["role_budget_left_usd"] == pytest.approx(1000.0 - used["cost_usd"])


async def test_a_stream_cut_after_it_started_is_charged_for_what_arrived(wire: str) -> None:
    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        pass

    free = {"name": "free", "kind": "openai", "model": "ok", "replicas": [f"{wire}/v1"]}
    async with connect(f"{wire}/v1", "cut", 1000.0, free) as client:
        args = {**_chat(20), "model": "paid", "stream": True}
        res = await client.call_tool("chat", args, progress_callback=on_progress)
        assert res.is_error and "stream broke" in res.content[0].text, res.content[0].text
        after = await client.call_tool("chat", {**_chat(), "model": "free"})
    # Two chunks ("alpha", " beta") arrived before the connection dropped; the prompt was sent whole.
    spend = after.structured_content["caller_spend"]
    prompt = after.structured_content["result"]["decision"]["prompt_tokens"]
    assert spend["requests"] == 2 and spend["cost_usd"] == pytest.approx(prompt + count_tokens("alpha beta"))
    assert after.structured_content["role_budget_left_usd"] == pytest.approx(1000.0 - spend["cost_usd"])


async def test_a_stream_cancelled_after_it_started_is_charged_for_what_arrived(wire: str) -> None:
    config = RouterConfig(backends=[{"name": "paid", "kind": "openai", "model": "drip", "replicas": [f"{wire}/v1"],
                                     "price_out_per_mtok": DOLLAR_PER_TOKEN}], role_budgets_usd={"r": 100.0})  # fmt: skip
    router = Router(config)
    await router.start()
    first = asyncio.Event()

    async def on_delta(d: Delta) -> None:
        first.set()

    request = ChatRequest(messages=[{"role": "user", "content": "hi"}], max_tokens=20)
    try:
        call = asyncio.create_task(router.chat(request, "p", "r", on_delta=on_delta))
        await asyncio.wait_for(first.wait(), 5)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    finally:
        await router.aclose()
    # "alpha" arrived (one token); the chunks drip every 0.15 s, so the cancel came before the next.
    assert router.ledger.by_principal["p"].completion_tokens == 1
    assert router.ledger.remaining_usd("r") == pytest.approx(99.0)  # the hold of the running call is gone


async def test_the_cascade_guarantee_names_its_calibration_file_without_the_server_path(wire: str, tmp_path) -> None:
    prompts = [f"{p} {i}" for i in range(40) for p in ("prove the series converges", "say hello")]
    labels = [1, 0] * 40
    predictor = QualityPredictor().fit(prompts, labels)
    calibration = fit_threshold(
        predictor.predict_batch(prompts), np.array(labels), alpha=0.3, delta=0.2, predictor_sha256=predictor.fingerprint()
    )  # no `source`: the file says nothing about where its data came from
    secret = tmp_path / "srv-secret-layout"
    secret.mkdir()
    paths = {"router.predictor_path": str(predictor.save(secret / "p.json")),
             "router.calibration_path": str(calibration.save(secret / "calib.json"))}  # fmt: skip
    backends = [{"name": "m", "kind": "openai", "model": "ok", "replicas": [f"{wire}/v1"]}]
    settings = load_settings(None, **{"audit.sink": "off", "router.backends": backends, **paths})
    server = build_server(settings, transport="memory")
    try:
        async with mcp.Client(server) as client:
            res = await client.call_tool("route_model", {"messages": _chat()["messages"], "policy": "cascade"})
    finally:
        await server.state.aclose()
    assert not res.is_error, res.content[0].text
    text = res.content[0].text + json.dumps(res.structured_content)
    assert "calibration calib.json" in text and "srv-secret-layout" not in text and str(tmp_path) not in text, text


async def test_an_upstream_error_body_is_not_shown_to_later_callers() -> None:
    # An upstream 500 that quotes the request (as proxies and engines do) fails one caller's chat; the
    # replica's last error is shown to every caller by list_models and in route_model's "down" reasons.
    def fail(body: dict) -> tuple[int, dict]:
        return 500, {"error": {"message": f"engine failed on: {body['messages'][0]['content']}"}}

    with backend(fail) as url:
        async with connect(url, budget=1000.0) as client:
            own = await client.call_tool("chat", {**_chat(), "messages": [{"role": "user", "content": "SECRET-42"}]})
            listed = await client.call_tool("list_models", {})
            routed = await client.call_tool("route_model", {"messages": [{"role": "user", "content": "hi"}]})
    assert own.is_error and "SECRET-42" in own.content[0].text  # the caller's own error says what failed
    for res in (listed, routed):
        text = res.content[0].text + json.dumps(res.structured_content)
        assert "SECRET-42" not in text and "HTTP 500" in text, text


async def test_a_prompt_is_counted_off_the_event_loop(wire: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Counting a 3.9 MB prompt takes about 2 s of CPU; on the event loop it stalled every request of
    # every principal for that long (2,029 ms measured), as often as one token may call route_model.
    loop_thread, counted_on = threading.get_ident(), []

    def spy(messages: list) -> int:
        counted_on.append(threading.get_ident())
        return real(messages)

    real = core.count_message_tokens
    monkeypatch.setattr(core, "count_message_tokens", spy)
    async with connect(f"{wire}/v1", budget=1000.0) as client:
        routed = await client.call_tool("route_model", {"messages": _chat()["messages"]})
        chat = await client.call_tool("chat", _chat())
    assert not routed.is_error and not chat.is_error, (routed.content, chat.content)
    assert len(counted_on) == 2 and loop_thread not in counted_on


async def test_a_prompt_is_scored_off_the_event_loop(wire: str) -> None:
    # The quality predictor took 2.0 s of CPU on a 3.9 MB prompt, on the event loop too.
    scored_on = []

    class Spy(QualityPredictor):
        def predict(self, prompt: str) -> float:
            scored_on.append(threading.get_ident())
            return super().predict(prompt)

    predictor = Spy().fit(["prove the series converges", "say hello"] * 5, [1, 0] * 5)
    config = RouterConfig(backends=[{"name": "m", "kind": "openai", "model": "ok", "replicas": [f"{wire}/v1"]}])
    router = Router(config, predictor=predictor)
    await router.start()
    try:
        decision = await router.decide_async(ChatRequest(messages=_chat()["messages"], policy="cost_quality"))
    finally:
        await router.aclose()
    assert decision.predictor_score is not None and scored_on and threading.get_ident() not in scored_on


async def test_a_session_key_is_the_callers_own(wire: str) -> None:
    # Affinity shows in route_model's candidates: another principal naming the same session key learnt
    # that it was in use, and steered its calls to the replica of its choice.
    config = RouterConfig(backends=[{"name": "m", "kind": "openai", "model": "ok", "replicas": [f"{wire}/v1"]}])
    router = Router(config)
    await router.start()
    try:
        request = ChatRequest(messages=_chat()["messages"], session="alice-review-7", max_tokens=3)
        await router.chat(request, "alice", "r")
        mine = await router.decide_async(request, "r", "alice")
        theirs = await router.decide_async(request, "r", "mallory")
    finally:
        await router.aclose()
    assert mine.candidates[0].affinity and not theirs.candidates[0].affinity


def test_tool_call_arguments_nested_past_the_parser_depth_are_refused_like_any_non_object() -> None:
    """A caller's assistant message whose tool call holds JSON nested 100,000 deep, sent to an Anthropic
    backend: parsing the arguments raised RecursionError (an internal error) instead of the 400 that any
    arguments which are not a JSON object get."""
    from ogmux.router.backends import _anthropic_messages
    from ogmux.router.errors import UpstreamRejectedError
    from ogmux.router.types import ChatMessage

    deep = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": deep}}
    message = ChatMessage.model_validate({"role": "assistant", "content": "", "tool_calls": [call]})
    with pytest.raises(UpstreamRejectedError, match="takes tool call arguments as a JSON object"):
        _anthropic_messages([message], "claude")
