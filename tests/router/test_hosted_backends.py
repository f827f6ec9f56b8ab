"""OpenAI and Anthropic paths, through their real SDKs, against a local HTTP server speaking their wire
formats (tests/router/wire_server.py; no API keys exist here). Also covers retries with Retry-After,
fallback before the first streamed byte, the deadline, charge-once accounting, vLLM's routed_experts,
and tool calls: answers plain and streamed, and the next turn in each API's wire shape."""

from __future__ import annotations

import json
import re
from contextlib import asynccontextmanager

import pytest
from pydantic import ValidationError

from ogmux.router.complete import Complete, RouterComplete
from ogmux.router.config import RouterConfig
from ogmux.router.core import Router
from ogmux.router.errors import BackendUnavailableError, StreamInterruptedError, UpstreamRejectedError
from ogmux.router.tokens import count_tokens
from ogmux.router.types import ChatRequest, ToolCall
from tests.integration.procs import refused_port
from tests.router.wire_server import AUTH, BODIES, TOOL_CALLS, TOOL_TEXT, dropping_server, wire_server

TOOLS = [
    {"type": "function", "function": {"name": f, "description": f"{f} tool", "parameters": {"type": "object"}}}
    for _, f, _ in TOOL_CALLS
]


@pytest.fixture(scope="module")
def wire():
    with wire_server() as url:
        yield url


def _backend(name: str, kind: str, model: str, url: str, **kw) -> dict:
    base = f"{url}/v1" if kind == "openai" else url
    return {"name": name, "kind": kind, "model": model, "replicas": [base], "price_in_per_mtok": 2.0,
            "price_out_per_mtok": 4.0, **kw}  # fmt: skip


def _router(*backends: dict, **kw) -> Router:
    return Router(RouterConfig(backends=list(backends), **{"retry": {"backoff_base_s": 0.01}, **kw}), api_keys={"oa": "sk-test"})


@asynccontextmanager
async def _running(*backends: dict, **kw):
    """A started router over `backends`, closed on exit."""
    r = _router(*backends, **kw)
    await r.start()
    try:
        yield r
    finally:
        await r.aclose()


def _texts():
    """A list and an on_delta callback that appends each delta's text to it."""
    got: list[str] = []

    async def on_delta(d):
        got.append(d.text)

    return got, on_delta


def _tool_pieces():
    """A list and an on_delta callback that collects each delta's tool-call pieces."""
    pieces: list = []

    async def on_delta(d):
        pieces.extend(d.tool_calls)

    return pieces, on_delta


def _req(**kw) -> ChatRequest:
    return ChatRequest(messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], **kw)


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_plain_and_streamed_answers_with_usage_and_cost(wire, kind):
    async with _running(_backend("m", kind, "ok", wire)) as r:
        res = await r.chat(_req(), "alice", "admin")
        assert res.choices == ["alpha beta gamma"]
        got, on_delta = _texts()

        streamed = await r.chat(_req(), "alice", "admin", on_delta=on_delta)
        assert got == ["alpha", " beta", " gamma"] and streamed.choices == res.choices
        u = streamed.usage
        assert u.completion_tokens == 3 and u.cost_usd == pytest.approx((u.prompt_tokens * 2 + 3 * 4) / 1e6)
        assert r.ledger.by_principal["alice"].requests == 2


async def test_openai_n_choices_streamed(wire):
    async with _running(_backend("m", "openai", "ok", wire)) as r:
        async def ignore(d):
            return None

        res = await r.chat(_req(n=3), on_delta=ignore)
        assert res.choices == ["alpha beta gamma"] * 3 and res.finish_reasons == ["stop"] * 3


async def test_429_opens_the_breaker_for_retry_after_and_falls_back(wire):
    async with _running(_backend("limited", "openai", "rate", wire, quality=0.99), _backend("spare", "anthropic", "ok", wire, quality=0.1)) as r:
        res = await r.chat(_req(policy="cost_quality"), "p", "admin")
        assert res.model == "spare" and [a.model for a in res.attempts] == ["limited", "spare"]
        assert "HTTP 429" in res.attempts[0].outcome
        limited = r.pool.replicas["limited"][0]
        assert limited.breaker.state == "open" and 6 < limited.breaker.retry_in_s() <= 7
        assert r.decide(_req(policy="cost_quality")).model == "spare"  # open breaker: filtered by health


async def test_5xx_retries_then_reports_every_attempt(wire):
    async with _running(_backend("a", "openai", "boom", wire), _backend("b", "anthropic", "boom", wire)) as r:
        with pytest.raises(BackendUnavailableError, match="HTTP 500.*HTTP 500"):
            await r.chat(_req())


async def test_the_failure_says_how_many_attempts_were_made_and_why_they_stopped(wire):
    async with _running(_backend("a", "openai", "boom", wire), retry={"backoff_base_s": 0.01, "max_attempts": 2}) as r:
        with pytest.raises(BackendUnavailableError) as exc:
            await r.chat(_req())
        assert re.fullmatch(r"no backend answered: 2 attempts in \d+\.\d s, router\.retry\.max_attempts reached: "
                            r"a@\S+: HTTP 500.*; a@\S+: HTTP 500.*", str(exc.value)), str(exc.value)
    with refused_port() as port:
        async with _running(_backend("dead", "openai", "ok", f"http://127.0.0.1:{port}")) as r:
            with pytest.raises(BackendUnavailableError) as exc:
                await r.chat(_req())
    assert re.fullmatch(r"no backend answered: 1 attempt in \d+\.\d s, no replica of the plan left to try \(breakers "
                        r"open\): dead@\S+: connection refused.*", str(exc.value)), str(exc.value)


async def test_a_dropped_connection_is_retried_on_the_same_replica():
    with dropping_server(drops=2) as url:
        async with _running(_backend("only", "openai", "ok", url)) as r:
            res = await r.chat(_req())
            assert res.choices == ["alpha beta gamma"]
            assert [a.outcome.split(": ")[-1][:18] for a in res.attempts] == ["connection dropped"] * 2 + ["ok"]
            assert {a.replica for a in res.attempts} == {f"{url}/v1"}
            assert r.pool.replicas["only"][0].breaker.state == "closed"


async def test_a_refused_connection_opens_the_breaker_at_once_and_falls_back(wire):
    with refused_port() as port:
        dead = _backend("dead", "openai", "ok", f"http://127.0.0.1:{port}", quality=0.99)
        async with _running(dead, _backend("spare", "openai", "ok", wire, quality=0.1)) as r:
            res = await r.chat(_req(policy="cost_quality"))
            assert [a.model for a in res.attempts] == ["dead", "spare"] and "connection refused" in res.attempts[0].outcome
            assert r.pool.replicas["dead"][0].breaker.state == "open"


async def test_an_answer_that_is_no_chat_completion_is_a_clear_backend_error(wire):
    async def ignore(d):
        return None

    for on_delta in (None, ignore):
        async with _running(_backend("odd", "openai", "garbled", wire)) as r:
            with pytest.raises(BackendUnavailableError, match="not a chat completion"):
                await r.chat(_req(), on_delta=on_delta)


async def test_a_prompt_too_long_for_one_model_goes_to_one_with_a_longer_context(wire):
    async with _running(
        _backend("short", "openai", "overflow", wire, quality=0.99, context_length=2048),
        _backend("long", "anthropic", "ok", wire, quality=0.1, context_length=200_000),
    ) as r:
        res = await r.chat(_req(policy="cost_quality"))
        assert res.model == "long" and [a.model for a in res.attempts] == ["short", "long"]
        assert "maximum context length" in res.attempts[0].outcome
        assert r.pool.replicas["short"][0].breaker.state == "closed"  # the request's fault, not the replica's


async def test_a_context_overflow_with_no_longer_model_is_reported(wire):
    async with _running(_backend("short", "openai", "overflow", wire, context_length=2048), _backend("same", "openai", "ok", wire, context_length=2048)) as r:
        with pytest.raises(UpstreamRejectedError, match="maximum context length"):
            await r.chat(_req(model="short"))


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_the_api_key_reaches_the_upstream(wire, kind):
    async with _running(_backend("oa", kind, "ok", wire)) as r:
        await r.chat(_req())
        assert AUTH[-1] in ("Bearer sk-test", "sk-test")


async def test_400_is_not_retried(wire):
    async with _running(_backend("a", "openai", "bad", wire), _backend("b", "openai", "ok", wire)) as r:
        with pytest.raises(UpstreamRejectedError, match="HTTP 400"):
            await r.chat(_req(model="a"))
        assert r.pool.replicas["a"][0].breaker.state == "closed"


async def test_one_deadline_for_the_whole_chain(wire):
    async with _running(_backend("a", "openai", "slow", wire), _backend("b", "anthropic", "slow", wire)) as r:
        # The first attempt used the whole deadline; a deadline per attempt would have tried the second backend.
        with pytest.raises(BackendUnavailableError, match=r"^no backend answered: 1 attempt in \d+\.\d s, the 0\.6 s "
                           "deadline left no time for another: "):
            await r.chat(_req(timeout_s=0.6))


async def test_a_hung_replica_is_left_after_the_attempt_timeout(wire):
    async with _running(
        _backend("hung", "openai", "slow", wire, quality=0.99),
        _backend("spare", "anthropic", "ok", wire, quality=0.1),
        retry={"backoff_base_s": 0.01, "attempt_timeout_s": 0.3},
    ) as r:
        res = await r.chat(_req(policy="cost_quality"))
        # Had the attempt timeout not left it, the hung replica would have answered (after 5 s).
        assert res.model == "spare" and "no answer within 0.3s" in res.attempts[0].outcome


async def test_the_attempt_timeout_bounds_the_first_byte_not_the_whole_stream(wire):
    async with _running(_backend("m", "openai", "drip", wire), retry={"attempt_timeout_s": 0.5}) as r:
        async def ignore(d):
            return None

        res = await r.chat(_req(), on_delta=ignore)  # about 1 s of chunks, each within 0.15 s
        assert res.choices == ["alpha beta gamma"] and len(res.attempts) == 1


async def test_no_fallback_after_the_first_streamed_byte_and_a_charge_for_what_arrived(wire):
    async with _running(_backend("a", "openai", "cut", wire, quality=0.99), _backend("b", "anthropic", "ok", wire, quality=0.1)) as r:
        sent, on_delta = _texts()

        with pytest.raises(StreamInterruptedError, match="no fallback"):
            await r.chat(_req(policy="cost_quality"), "p", "admin", on_delta=on_delta)
        assert sent[0] == "alpha" and "".join(sent) != "alpha beta gamma"
        spent = r.ledger.by_principal["p"]
        assert (spent.requests, spent.completion_tokens) == (1, count_tokens("".join(sent)))
        assert r.pool.replicas["a"][0].breaker.state == "closed"  # a dropped stream is transient
        res = await r.chat(_req(policy="cost_quality"), "p", "admin")
        assert res.model == "a" and res.choices == ["alpha beta gamma"]


async def test_a_stream_cut_before_the_first_byte_falls_back(wire):
    async with _running(_backend("a", "anthropic", "cut", wire, quality=0.99), _backend("b", "openai", "ok", wire, quality=0.1)) as r:
        got, on_delta = _texts()

        res = await r.chat(_req(policy="cost_quality"), "p", "admin", on_delta=on_delta)
        assert res.model == "b" and "".join(got) == "alpha beta gamma"
        assert [a.model for a in res.attempts] == ["a", "b"] and "connection dropped" in res.attempts[0].outcome
        assert r.pool.replicas["a"][0].breaker.state == "closed"  # a dropped stream is transient


async def test_routed_experts_are_counted_per_request_and_per_model(wire):
    async with _running(_backend("moe", "openai", "experts", wire)) as r:
        res = await r.chat(_req(n=2))
        # EXPERTS holds ids 0,3 / 1,3 / 3,5 / 0,1 over 2 tokens x 2 layers x top-2
        assert res.routed_experts == [{"0": 2, "1": 2, "3": 3, "5": 1}] * 2
        assert r.models()[0].expert_usage == {"0": 4, "1": 4, "3": 6, "5": 2}


def test_router_complete_is_a_sync_complete_function(wire):
    r = _router(_backend("m", "anthropic", "ok", wire))
    r.run_in_background()
    try:
        complete = RouterComplete(r, principal="evaluator", role="admin", max_tokens=32)
        assert isinstance(complete, Complete)
        assert complete([{"role": "user", "content": "hi"}]) == "alpha beta gamma"
        assert r.ledger.by_principal["evaluator"].requests == 1
    finally:
        r.stop_background()


def test_charge_is_idempotent():
    r = _router()
    assert r.ledger.charge("id-1", "p", "role", 10, 5, 0.5)
    assert not r.ledger.charge("id-1", "p", "role", 10, 5, 0.5)
    assert r.ledger.by_role["role"].cost_usd == 0.5


async def test_session_affinity_only_below_the_load_gate(wire):
    twin = {"name": "m", "kind": "openai", "model": "ok", "replicas": [f"{wire}/v1", wire.replace("127.0.0.1", "localhost") + "/v1"]}
    async with _running(twin, affinity_load_gate=0.5) as r:
        served = (await r.chat(_req(session="conv-1"))).replica
        d = r.decide(_req(session="conv-1"))
        assert d.replica == served and next(c for c in d.candidates if c.replica == served).affinity
        busy = next(x for x in r.pool.replicas["m"] if x.url == served)
        busy.in_flight = 3  # queue share 3/7 < 0.5: still sticky, despite the extra predicted latency
        assert next(c for c in r.decide(_req(session="conv-1")).candidates if c.replica == served).affinity
        busy.in_flight = 8  # above the gate: affinity is dropped and load decides
        d = r.decide(_req(session="conv-1"))
        assert d.replica != served and not any(c.affinity for c in d.candidates)


def _calls(count: int) -> list[ToolCall]:
    return [ToolCall(id=c, name=f, arguments="".join(p)) for c, f, p in TOOL_CALLS[:count]]


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_tool_calls_in_plain_and_streamed_answers(wire, kind):
    async with _running(_backend("m", kind, "tool", wire, capabilities=["tools"])) as r:
        res = await r.chat(_req(tools=TOOLS))
        pieces, on_delta = _tool_pieces()

        streamed = await r.chat(_req(tools=TOOLS), on_delta=on_delta)
    if kind == "openai":  # two calls, no text; each call's id and name, then its arguments in pieces
        want, text, finish = _calls(2), "", "tool_calls"
        assert len(pieces) == sum(1 + len(p) for _, _, p in TOOL_CALLS)
    else:  # a text block, then one tool_use block with its input in input_json_delta fragments
        want, text, finish = _calls(1), TOOL_TEXT, "tool_use"
        assert len(pieces) == 1 + len(TOOL_CALLS[0][2])
    for got in (res, streamed):
        assert got.tool_calls == [want] and got.choices == [text] and got.finish_reasons == [finish]
    assert json.loads(res.tool_calls[0][0].arguments) == {"city": "Paris", "unit": "C"}


async def test_the_next_turn_carries_tool_calls_and_results_in_each_wire_shape(wire):
    async with _running(*(_backend(k, k, "tool", wire, capabilities=["tools"]) for k in ("openai", "anthropic"))) as r:
        sent = {}
        for first in ("openai", "anthropic"):
            res = await r.chat(_req(model=first, tools=TOOLS))
            calls = [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                     for c in res.tool_calls[0]]  # fmt: skip
            turn = [{"role": "user", "content": "weather?"}, {"role": "assistant", "content": res.choices[0] or None, "tool_calls": calls}]
            turn += [{"role": "tool", "tool_call_id": c.id, "content": f"result of {c.name}"} for c in res.tool_calls[0]]
            for target in ("openai", "anthropic"):
                await r.chat(ChatRequest(messages=turn, model=target, tools=TOOLS))
                sent[first, target] = BODIES[-1]
    weather = {"city": "Paris", "unit": "C"}
    # OpenAI: the messages go as given (no text: no content key), one "tool" message per result.
    assert sent["openai", "openai"]["messages"][1:] == [
        {"role": "assistant", "tool_calls": [
            {"id": "call_w", "type": "function", "function": {"name": "get_weather", "arguments": json.dumps(weather)}},
            {"id": "call_t", "type": "function", "function": {"name": "get_time", "arguments": '{"zone": "Europe/Paris"}'}}]},
        {"role": "tool", "content": "result of get_weather", "tool_call_id": "call_w"},
        {"role": "tool", "content": "result of get_time", "tool_call_id": "call_t"},
    ]  # fmt: skip
    assert sent["anthropic", "openai"]["messages"][1]["content"] == TOOL_TEXT
    # Anthropic: tool_use blocks with the parsed input; the results share one user turn.
    assert sent["openai", "anthropic"]["messages"][1:] == [
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "call_w", "name": "get_weather", "input": weather},
            {"type": "tool_use", "id": "call_t", "name": "get_time", "input": {"zone": "Europe/Paris"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_w", "content": "result of get_weather"},
            {"type": "tool_result", "tool_use_id": "call_t", "content": "result of get_time"}]},
    ]  # fmt: skip
    assert sent["anthropic", "anthropic"]["messages"][1:] == [
        {"role": "assistant", "content": [
            {"type": "text", "text": TOOL_TEXT}, {"type": "tool_use", "id": "call_w", "name": "get_weather", "input": weather}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_w", "content": "result of get_weather"}]},
    ]  # fmt: skip
    assert [t["name"] for t in sent["openai", "anthropic"]["tools"]] == ["get_weather", "get_time"]


async def test_no_fallback_after_the_first_streamed_tool_call_piece(wire):
    async with _running(
        _backend("a", "openai", "toolcut", wire, quality=0.99, capabilities=["tools"]),
        _backend("b", "anthropic", "tool", wire, quality=0.1, capabilities=["tools"]),
    ) as r:
        pieces, on_delta = _tool_pieces()

        with pytest.raises(StreamInterruptedError, match="no fallback"):
            await r.chat(_req(policy="cost_quality", tools=TOOLS), on_delta=on_delta)
        assert pieces and pieces[0].name == "get_weather"


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"role": "tool", "content": "18 C"}, "tool_call_id"),
        ({"role": "user", "content": "hi", "tool_call_id": "call_w"}, "tool_call_id"),
        ({"role": "user", "content": "hi", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]}, "tool_calls"),
        ({"role": "assistant"}, "content"),
        ({"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f"}}]}, "arguments"),
    ],
)
def test_malformed_tool_messages_are_rejected_naming_the_field(message, field):
    with pytest.raises(ValidationError, match=field):
        ChatRequest(messages=[message])


async def test_anthropic_needs_tool_call_arguments_that_are_a_json_object(wire):
    async with _running(_backend("m", "anthropic", "ok", wire, capabilities=["tools"])) as r:
        call = {"id": "call_x", "type": "function", "function": {"name": "f", "arguments": "not json"}}
        msgs = [{"role": "assistant", "content": None, "tool_calls": [call]}, {"role": "tool", "tool_call_id": "call_x", "content": "x"}]
        with pytest.raises(UpstreamRejectedError, match="call 'call_x'.*JSON object|JSON object.*call 'call_x'"):
            await r.chat(ChatRequest(messages=msgs, tools=TOOLS))
