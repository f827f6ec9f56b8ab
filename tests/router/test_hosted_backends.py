"""OpenAI and Anthropic paths, through their real SDKs, against a local HTTP server speaking their wire
formats (tests/router/wire_server.py; no API keys exist here). Also covers retries with Retry-After,
fallback before the first streamed byte, the deadline, charge-once accounting, and vLLM's routed_experts."""

from __future__ import annotations

import time

import pytest

from router.complete import Complete, RouterComplete
from router.config import RouterConfig
from router.core import Router
from router.errors import BackendUnavailableError, StreamInterruptedError, UpstreamRejectedError
from router.types import ChatRequest
from tests.integration.procs import free_port
from tests.router.wire_server import dropping_server, wire_server


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


def _req(**kw) -> ChatRequest:
    return ChatRequest(messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], **kw)


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_plain_and_streamed_answers_with_usage_and_cost(wire, kind):
    r = _router(_backend("m", kind, "ok", wire))
    await r.start()
    try:
        res = await r.chat(_req(), "alice", "admin")
        assert res.choices == ["alpha beta gamma"]
        got: list[str] = []

        async def on_delta(d):
            got.append(d.text)

        streamed = await r.chat(_req(), "alice", "admin", on_delta=on_delta)
        assert got == ["alpha", " beta", " gamma"] and streamed.choices == res.choices
        u = streamed.usage
        assert u.completion_tokens == 3 and u.cost_usd == pytest.approx((u.prompt_tokens * 2 + 3 * 4) / 1e6)
        assert r.ledger.by_principal["alice"].requests == 2
    finally:
        await r.aclose()


async def test_openai_n_choices_streamed(wire):
    r = _router(_backend("m", "openai", "ok", wire))
    await r.start()
    try:
        async def ignore(d):
            return None

        res = await r.chat(_req(n=3), on_delta=ignore)
        assert res.choices == ["alpha beta gamma"] * 3 and res.finish_reasons == ["stop"] * 3
    finally:
        await r.aclose()


async def test_429_opens_the_breaker_for_retry_after_and_falls_back(wire):
    r = _router(_backend("limited", "openai", "rate", wire, quality=0.99), _backend("spare", "anthropic", "ok", wire, quality=0.1))
    await r.start()
    try:
        res = await r.chat(_req(policy="cost_quality"), "p", "admin")
        assert res.model == "spare" and [a.model for a in res.attempts] == ["limited", "spare"]
        assert "HTTP 429" in res.attempts[0].outcome
        limited = r.pool.replicas["limited"][0]
        assert limited.breaker.state == "open" and 6 < limited.breaker.retry_in_s() <= 7
        assert r.decide(_req(policy="cost_quality")).model == "spare"  # open breaker: filtered by health
    finally:
        await r.aclose()


async def test_5xx_retries_then_reports_every_attempt(wire):
    r = _router(_backend("a", "openai", "boom", wire), _backend("b", "anthropic", "boom", wire))
    await r.start()
    try:
        with pytest.raises(BackendUnavailableError, match="HTTP 500.*HTTP 500"):
            await r.chat(_req())
    finally:
        await r.aclose()


async def test_a_dropped_connection_is_retried_on_the_same_replica():
    with dropping_server(drops=2) as url:
        r = _router(_backend("only", "openai", "ok", url))
        await r.start()
        try:
            res = await r.chat(_req())
            assert res.choices == ["alpha beta gamma"]
            assert [a.outcome.split(": ")[-1][:18] for a in res.attempts] == ["connection dropped"] * 2 + ["ok"]
            assert {a.replica for a in res.attempts} == {f"{url}/v1"}
            assert r.pool.replicas["only"][0].breaker.state == "closed"
        finally:
            await r.aclose()


async def test_a_refused_connection_opens_the_breaker_at_once_and_falls_back(wire):
    dead = f"http://127.0.0.1:{free_port()}"
    r = _router(_backend("dead", "openai", "ok", dead, quality=0.99), _backend("spare", "openai", "ok", wire, quality=0.1))
    await r.start()
    try:
        res = await r.chat(_req(policy="cost_quality"))
        assert [a.model for a in res.attempts] == ["dead", "spare"] and "connection refused" in res.attempts[0].outcome
        assert r.pool.replicas["dead"][0].breaker.state == "open"
    finally:
        await r.aclose()


async def test_an_answer_that_is_no_chat_completion_is_a_clear_backend_error(wire):
    async def ignore(d):
        return None

    for on_delta in (None, ignore):
        r = _router(_backend("odd", "openai", "garbled", wire))
        await r.start()
        try:
            with pytest.raises(BackendUnavailableError, match="not a chat completion"):
                await r.chat(_req(), on_delta=on_delta)
        finally:
            await r.aclose()


async def test_400_is_not_retried(wire):
    r = _router(_backend("a", "openai", "bad", wire), _backend("b", "openai", "ok", wire))
    await r.start()
    try:
        with pytest.raises(UpstreamRejectedError, match="HTTP 400"):
            await r.chat(_req(model="a"))
        assert r.pool.replicas["a"][0].breaker.state == "closed"
    finally:
        await r.aclose()


async def test_one_deadline_for_the_whole_chain(wire):
    r = _router(_backend("a", "openai", "slow", wire), _backend("b", "anthropic", "slow", wire))
    await r.start()
    try:
        t0 = time.perf_counter()
        with pytest.raises(BackendUnavailableError, match="deadline"):
            await r.chat(_req(timeout_s=0.6))
        assert time.perf_counter() - t0 < 1.5
    finally:
        await r.aclose()


async def test_a_hung_replica_is_left_after_the_attempt_timeout(wire):
    r = _router(
        _backend("hung", "openai", "slow", wire, quality=0.99),
        _backend("spare", "anthropic", "ok", wire, quality=0.1),
        retry={"backoff_base_s": 0.01, "attempt_timeout_s": 0.3},
    )
    await r.start()
    try:
        t0 = time.perf_counter()
        res = await r.chat(_req(policy="cost_quality"))
        assert res.model == "spare" and "no answer within 0.3s" in res.attempts[0].outcome
        assert time.perf_counter() - t0 < 3  # the hung replica answers only after 5 s
    finally:
        await r.aclose()


async def test_the_attempt_timeout_bounds_the_first_byte_not_the_whole_stream(wire):
    r = _router(_backend("m", "openai", "drip", wire), retry={"attempt_timeout_s": 0.5})
    await r.start()
    try:
        async def ignore(d):
            return None

        res = await r.chat(_req(), on_delta=ignore)  # about 1 s of chunks, each within 0.15 s
        assert res.choices == ["alpha beta gamma"] and len(res.attempts) == 1
    finally:
        await r.aclose()


async def test_no_fallback_after_the_first_streamed_byte_and_no_charge(wire):
    r = _router(_backend("a", "openai", "cut", wire, quality=0.99), _backend("b", "anthropic", "ok", wire, quality=0.1))
    await r.start()
    try:
        sent: list[str] = []

        async def on_delta(d):
            sent.append(d.text)

        with pytest.raises(StreamInterruptedError, match="no fallback"):
            await r.chat(_req(policy="cost_quality"), "p", "admin", on_delta=on_delta)
        assert sent[0] == "alpha" and "".join(sent) != "alpha beta gamma"
        assert "p" not in r.ledger.by_principal
        assert r.pool.replicas["a"][0].breaker.state == "closed"  # a dropped stream is transient
        res = await r.chat(_req(policy="cost_quality"), "p", "admin")
        assert res.model == "a" and res.choices == ["alpha beta gamma"]
    finally:
        await r.aclose()


async def test_a_stream_cut_before_the_first_byte_falls_back(wire):
    r = _router(_backend("a", "anthropic", "cut", wire, quality=0.99), _backend("b", "openai", "ok", wire, quality=0.1))
    await r.start()
    try:
        got: list[str] = []

        async def on_delta(d):
            got.append(d.text)

        res = await r.chat(_req(policy="cost_quality"), "p", "admin", on_delta=on_delta)
        assert res.model == "b" and "".join(got) == "alpha beta gamma"
        assert [a.model for a in res.attempts] == ["a", "b"] and "dropped mid-stream" in res.attempts[0].outcome
    finally:
        await r.aclose()


async def test_routed_experts_are_counted_per_request_and_per_model(wire):
    r = _router(_backend("moe", "openai", "experts", wire))
    await r.start()
    try:
        res = await r.chat(_req(n=2))
        # EXPERTS holds ids 0,3 / 1,3 / 3,5 / 0,1 over 2 tokens x 2 layers x top-2
        assert res.routed_experts == [{"0": 2, "1": 2, "3": 3, "5": 1}] * 2
        assert r.models()[0].expert_usage == {"0": 4, "1": 4, "3": 6, "5": 2}
    finally:
        await r.aclose()


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
    r = _router(twin, affinity_load_gate=0.5)
    await r.start()
    try:
        served = (await r.chat(_req(session="conv-1"))).replica
        d = r.decide(_req(session="conv-1"))
        assert d.replica == served and next(c for c in d.candidates if c.replica == served).affinity
        busy = next(x for x in r.pool.replicas["m"] if x.url == served)
        busy.in_flight = 3  # queue share 3/7 < 0.5: still sticky, despite the extra predicted latency
        assert next(c for c in r.decide(_req(session="conv-1")).candidates if c.replica == served).affinity
        busy.in_flight = 8  # above the gate: affinity is dropped and load decides
        d = r.decide(_req(session="conv-1"))
        assert d.replica != served and not any(c.affinity for c in d.candidates)
    finally:
        await r.aclose()
