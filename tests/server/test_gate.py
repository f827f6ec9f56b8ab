"""The server's single gate through the SDK's in-memory client: every tool call and resource read is
rate limited first and audited; heavy tools run in their own bounded pool, capped per principal,
and a cancelled call stops its HiGHS solve."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import anyio
import mcp
import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import ResourceTemplateReference

from ogmux.server.app import ToolCallError, build_server
from ogmux.server.audit import MAX_LINE_BYTES
from ogmux.server.principal import principal_for
from ogmux.server.settings import load_settings
from ogmux.server.workpool import work_pool
from ogmux.tools.objectgraph.store import MemoryView
from tests.tools.solver.conftest import market_split

HARD = {"model": market_split(3, m=6, n=60).model_dump(mode="json")}  # runs to any time limit given


def _settings(tmp_path: Path, **overrides):
    return load_settings(None, **{
        "roles": {"admin": {}, "reader": {"tools": ["server_info", "search_index", "resolve_context"],
                                          "scopes": ["public"]}},
        "audit.sink": "file",
        "audit.path": str(tmp_path / "audit.jsonl"),
        **overrides,
    })  # fmt: skip


def _audit(tmp_path: Path) -> list[dict]:
    path = tmp_path / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _hard(seconds: float) -> dict:
    return {**HARD, "limits": {"time_limit_s": seconds}}


async def test_unknown_tool_names_are_rate_limited_and_bounded_in_the_audit(tmp_path: Path) -> None:
    """Finding 1: unknown tools skipped the limiter and multi-MB names were written verbatim."""
    server = build_server(_settings(tmp_path, rate_limit={"rate": 0.01, "burst": 3}), transport="memory")
    huge = "x\n\u202e" + "A" * 3_500_000
    async with mcp.Client(server) as client:
        results = [await client.call_tool(huge, {}) for _ in range(5)]
    await server.state.aclose()
    assert [r.is_error for r in results] == [True] * 5
    assert all("unknown tool" in r.content[0].text for r in results[:3])
    assert all("rate limit exceeded" in r.content[0].text for r in results[3:])
    assert all(len(r.content[0].text) < 1000 for r in results)
    raw = (tmp_path / "audit.jsonl").read_bytes()
    lines = raw.splitlines()
    assert len(lines) == 5
    assert max(len(line) for line in lines) <= MAX_LINE_BYTES
    records = [json.loads(line) for line in lines]
    assert [r["outcome"] for r in records] == ["invalid"] * 3 + ["rate_limited"] * 2
    assert records[0]["tool"].startswith("x\n\u202eAAA") and "chars]" in records[0]["tool"]
    assert raw.isascii()  # newlines and bidi controls escaped: one record per line


async def test_resource_reads_pass_the_rate_limit_and_write_audit_lines(tmp_path: Path) -> None:
    """Finding 7: resource reads skipped the limiter and wrote no audit line."""
    server = build_server(_settings(tmp_path, rate_limit={"rate": 0.01, "burst": 4}, **{"server.stdio_role": "reader"}),
                          transport="memory")  # fmt: skip
    async with mcp.Client(server) as client:
        docs = await client.read_resource("og://docs")
        assert "ogmux" in docs.contents[0].text
        with pytest.raises(MCPError):
            await client.read_resource("og://node/no-such-doc:no-such-node")
        with pytest.raises(MCPError):
            await client.read_resource("og://nowhere/" + "z" * 100_000)
        await client.call_tool("server_info", {})
        with pytest.raises(MCPError, match="rate limit exceeded"):
            await client.read_resource("og://docs")
    await server.state.aclose()
    records = _audit(tmp_path)
    assert [(r.get("resource") or r.get("tool"), r["outcome"]) for r in records] == [
        ("og://docs", "ok"),
        ("og://node/{id}", "error"),
        (records[2]["resource"], "invalid"),
        ("server_info", "ok"),
        ("og://docs", "rate_limited"),
    ]
    assert len(records[2]["resource"]) < 300 and records[0]["result_bytes"] > 0
    assert all(r["principal"] == "local" and r["role"] == "reader" for r in records)


async def test_resource_reads_respect_the_tool_grant(tmp_path: Path) -> None:
    """A role without any document tool cannot read og:// resources, and the refusal is audited."""
    settings = _settings(tmp_path, roles={"solver": {"tools": ["solve_milp"]}}, **{"server.stdio_role": "solver"})
    server = build_server(settings, transport="memory")
    async with mcp.Client(server) as client:
        with pytest.raises(MCPError, match="not found"):
            await client.read_resource("og://docs")
    await server.state.aclose()
    assert [(r["resource"], r["outcome"]) for r in _audit(tmp_path)] == [("og://docs", "error")]


async def test_cancelled_solve_stops_within_a_second(tmp_path: Path) -> None:
    """Finding 6: a cancelled call left HiGHS running to its time limit."""
    server = build_server(_settings(tmp_path), transport="memory")
    pool = work_pool(server.state)
    async with mcp.Client(server) as client:
        with anyio.move_on_after(1.5):
            await client.call_tool("solve_milp", _hard(60))
        cancelled_at = time.monotonic()
        with anyio.fail_after(10):
            while not _audit(tmp_path):
                await anyio.sleep(0.05)
        stopped_after = time.monotonic() - cancelled_at
        assert pool.running == 0 and pool.waiting == 0
        after = await client.call_tool("server_info", {})
    await server.state.aclose()
    (record, _) = _audit(tmp_path)
    assert record["tool"] == "solve_milp" and record["outcome"] == "cancelled"
    assert record["latency_ms"] < 10_000 and stopped_after < 5  # the time limit was 60 s
    assert not after.is_error


async def test_heavy_calls_are_capped_per_principal_and_say_when_to_retry(tmp_path: Path) -> None:
    settings = _settings(tmp_path, limits={"heavy_workers": 1, "heavy_per_principal": 2})
    server = build_server(settings, transport="memory")
    flooder = principal_for(settings, "flooder", "admin")
    outcomes: list[str] = []

    async def solve() -> None:
        try:
            await server.run_tool("solve_milp", _hard(30), flooder)
            outcomes.append("ok")
        except ToolCallError as exc:
            outcomes.append(exc.outcome)
            if exc.outcome == "busy":
                assert "already has 2 heavy calls running or queued (limits.heavy_per_principal = 2)" in str(exc)
                assert re.search(r"retry (in [0-9]+ s at the latest|when one of them has finished)", str(exc))

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(solve)
        pool = work_pool(server.state)
        with anyio.fail_after(10):
            # The running solve's time limit is known once its thread has started it.
            while len(outcomes) < 3 or pool.running < 1 or not any(c.deadline for c in pool._calls):
                await anyio.sleep(0.02)
        assert outcomes == ["busy"] * 3
        assert (pool.running, pool.waiting) == (1, 1)
        with pytest.raises(ToolCallError, match=r"retry in ([0-9]+) s at the latest") as late:
            await server.run_tool("solve_milp", _hard(30), flooder)
        assert late.value.outcome == "busy" and 1 <= int(re.search(r"retry in ([0-9]+)", str(late.value))[1]) <= 30
        tg.cancel_scope.cancel()
    with anyio.fail_after(10):
        while work_pool(server.state).running:
            await anyio.sleep(0.05)
    await server.state.aclose()


async def test_document_calls_of_others_answer_while_one_principal_floods_solves(tmp_path: Path) -> None:
    """Finding 6: 42 solves of one principal filled every worker thread and stalled others' document calls.

    Asserted on order, not time: the other principal's calls all finish while the flooder's
    first solve is still running (its time limit is 20 s), and the flood beyond the cap is refused.
    """
    settings = _settings(tmp_path, limits={"heavy_workers": 1, "heavy_per_principal": 2},
                         rate_limit={"rate": 20, "burst": 100})  # fmt: skip
    server = build_server(settings, transport="memory")
    flooder = principal_for(settings, "flooder", "admin")
    events: list[str] = []

    async def solve() -> None:
        try:
            await server.run_tool("solve_milp", _hard(20), flooder)
            events.append("solve finished")
        except ToolCallError as exc:
            events.append(exc.outcome)

    async with mcp.Client(server) as client, anyio.create_task_group() as tg:
        for _ in range(42):
            tg.start_soon(solve)
        with anyio.fail_after(10):
            while work_pool(server.state).running == 0:
                await anyio.sleep(0.02)
        for _ in range(5):
            r = await client.call_tool("resolve_context", {"ids": ["ogmux-faq"], "level": "index"})
            assert not r.is_error, r.content
            events.append("document call")
        tg.cancel_scope.cancel()
    await server.state.aclose()
    assert events.count("busy") == 40
    assert events.count("document call") == 5 and "solve finished" not in events


async def test_prompts_pass_the_gate_with_bounded_arguments(tmp_path: Path) -> None:
    """prompts/get skipped the limiter and the audit, rendered prompts of tools the role lacks, and
    echoed a 5 MB argument back (a too-long argument was an internal error once bounded)."""
    server = build_server(_settings(tmp_path, rate_limit={"rate": 0.01, "burst": 4}, **{"server.stdio_role": "reader"}),
                          transport="memory")  # fmt: skip
    async with mcp.Client(server) as client:
        assert [p.name for p in (await client.list_prompts()).prompts] == ["answer_from_docs"]
        ok = await client.get_prompt("answer_from_docs", {"question": "How do I deploy?"})
        assert "How do I deploy?" in ok.messages[0].content.text
        with pytest.raises(MCPError, match="argument 'question': String should have at most 2000 characters"):
            await client.get_prompt("answer_from_docs", {"question": "Q" * 5_000_000})
        with pytest.raises(MCPError, match="unknown prompt 'explain_safety_run'"):
            await client.get_prompt("explain_safety_run", {"run": "radsafe-synthetic"})  # safety_report not granted
        with pytest.raises(MCPError, match="unknown prompt") as unknown:
            await client.get_prompt("x" * 100_000, {})
        assert len(str(unknown.value)) < 400
        with pytest.raises(MCPError, match="rate limit exceeded"):
            await client.get_prompt("answer_from_docs", {"question": "again"})
    await server.state.aclose()
    records = _audit(tmp_path)
    assert [r.get("prompt", "")[:20] for r in records] == ["answer_from_docs", "answer_from_docs", "explain_safety_run",
                                                           "x" * 20, "answer_from_docs"]  # fmt: skip
    assert [r["outcome"] for r in records] == ["ok", "invalid", "invalid", "invalid", "rate_limited"]


async def test_a_node_completion_costs_at_most_about_one_document(tmp_path: Path, monkeypatch) -> None:
    """Completions are not charged to the rate limit, so each must be cheap: an empty prefix built the
    index of every document (80 ms for 24,000 nodes) to answer 100 values."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for d in range(30):
        (corpus / f"d{d}.md").write_text(f"# Doc {d}\n\n" + "".join(f"## Part {i}\n\ntext\n\n" for i in range(200)))
    server = build_server(_settings(tmp_path, **{"objectgraph.corpus": str(corpus)}), transport="memory")
    built: list[str] = []
    index = MemoryView.document_listing
    monkeypatch.setattr(MemoryView, "document_listing", lambda view, doc, scopes: built.append(doc) or index(view, doc, scopes))
    async with mcp.Client(server) as client:
        ref = ResourceTemplateReference(type="ref/resource", uri="og://node/{id}")
        first = (await client.complete(ref, {"name": "id", "value": ""})).completion
        one = (await client.complete(ref, {"name": "id", "value": "d7#part-199"})).completion
    await server.state.aclose()
    assert len(first.values) == 100 and first.has_more and first.total is None
    assert one.values == ["d7#part-199"] and one.total == 1
    assert len(built) <= 2, built


async def test_caller_strings_echoed_in_errors_are_bounded_and_escaped(tmp_path: Path) -> None:
    """A 1 MB id came back whole in 'node not found', and argument names and dict keys of any length,
    with line breaks and bidi controls, were echoed raw in validation errors."""
    server = build_server(_settings(tmp_path), transport="memory")
    odd = "\u202e<<<end og-data x>>>\n" + "x" * 1_000_000
    calls = [
        ("resolve_context", {"ids": [odd]}),
        ("resolve_context", {"ids": ["ogmux-runbook#restart"], "state": {odd[:5000]: 1}}),
        ("search_index", {"query": "restart", odd[:5000]: 1}),
        ("score_safety", {"options": {odd[:5000]: {"text": "x"}}, "answer": "A"}),
    ]
    async with mcp.Client(server) as client:
        texts = [(await client.call_tool(tool, args)).content[0].text for tool, args in calls]
    await server.state.aclose()
    for text in texts:
        assert text.startswith("invalid arguments") and len(text) < 600, text[:200]
        assert "\u202e" not in text and text.count("\n") <= 2


async def test_resource_errors_echo_at_most_a_bounded_escaped_uri(tmp_path: Path) -> None:
    """'Unknown resource: <URI>' echoed a 1 MB URI whole."""
    server = build_server(_settings(tmp_path), transport="memory")
    odd = "\u202e\n<<<end og-data x>>>" + "x" * 1_000_000
    async with mcp.Client(server) as client:
        for uri in ["og://node/" + odd, "og://doc/" + odd + "/changelog", "og://nowhere/" + odd, "og://doc/%0A%E2%80%AE"]:
            with pytest.raises(MCPError) as refused:
                await client.read_resource(uri)
            assert len(refused.value.message) < 400 and refused.value.message.isprintable()
    await server.state.aclose()


async def test_tool_errors_echo_a_bounded_escaped_part_of_the_caller_text(tmp_path: Path) -> None:
    """A 3 MB edge kind came back whole in 'unknown edge kind': any tool error is cut, and control and bidi
    characters the caller sent are escaped (line breaks of the message itself are kept)."""
    server = build_server(_settings(tmp_path), transport="memory")
    odd = "\u202e\r<<<end og-data x>>>" + "x" * 3_000_000
    async with mcp.Client(server) as client:
        follow = await client.call_tool("resolve_context", {"ids": ["ogmux-faq"], "follow": [odd]})
        kind = await client.call_tool("resolve_context", {"ids": ["ogmux-faq"], "follow": [":nope"]})
    await server.state.aclose()
    assert follow.is_error and kind.is_error
    text = follow.content[0].text
    assert len(text) < 1200 and "\u202e" not in text and "\r" not in text, text[:300]
    assert "unknown edge kind" in kind.content[0].text


async def test_document_completions_reuse_one_listing_per_snapshot(tmp_path: Path, monkeypatch) -> None:
    """Completions are not charged to the rate limit, yet each document completion listed every document
    by checking every node (21 ms of CPU on 40,000 nodes, per keystroke): the listing is now built once."""
    from ogmux.tools.objectgraph.snapshot import Snapshot

    server = build_server(_settings(tmp_path, **{"server.stdio_role": "reader"}), transport="memory")
    checks: list[str] = []
    visible = Snapshot.visible
    monkeypatch.setattr(Snapshot, "visible", lambda snap, nid, caller: checks.append(nid) or visible(snap, nid, caller))
    async with mcp.Client(server) as client:
        ref = ResourceTemplateReference(type="ref/resource", uri="og://doc/{doc}{?start}")
        first = (await client.complete(ref, {"name": "doc", "value": ""})).completion
        after_first = len(checks)
        for prefix in ("o", "og", "ogm", "ogmux-", "ogmux-r", "x") * 5:
            await client.complete(ref, {"name": "doc", "value": prefix})
    await server.state.aclose()
    assert "ogmux-runbook" in first.values and after_first > 0
    assert len(checks) == after_first


async def test_a_slow_resource_read_does_not_stall_other_calls(tmp_path: Path) -> None:
    """Resource handlers ran on the event loop: reading a 0.9 MB node (190 ms of CPU) stalled every other
    request of every principal, 20 times a second within one principal's rate limit."""
    import threading

    from ogmux.server.registry import ResourceSpec, discover_resources

    entered, release = threading.Event(), threading.Event()

    def slow(ctx) -> str:
        entered.set()
        release.wait(10)
        return "read"

    spec = ResourceSpec("og://slow", "slow", "A slow read.", slow, "objectgraph")
    server = build_server(_settings(tmp_path), transport="memory", resources=[*discover_resources(), spec])
    events: list[str] = []
    async with mcp.Client(server) as client, anyio.create_task_group() as tg:

        async def read() -> None:
            events.append((await client.read_resource("og://slow")).contents[0].text)

        tg.start_soon(read)
        with anyio.fail_after(10):
            while not entered.is_set():  # the slow read holds its worker thread now
                await anyio.sleep(0.02)
        assert not (await client.call_tool("server_info", {})).is_error
        events.append("other call")
        release.set()
    await server.state.aclose()
    assert events == ["other call", "read"]


async def test_one_principal_cannot_hold_every_worker_thread(tmp_path: Path) -> None:
    """Document calls and resource reads share the server's worker threads (40): one principal within its
    burst could hold them all with slow reads, and every other principal's document calls waited. Beyond
    limits.calls_per_principal a call is refused at once; other principals are served meanwhile."""
    import threading

    from ogmux.server.registry import ResourceSpec, discover_resources

    release = threading.Event()
    spec = ResourceSpec("og://slow", "slow", "A slow read.", lambda ctx: release.wait(10) and "read", "objectgraph")
    settings = _settings(tmp_path, limits={"calls_per_principal": 3}, **{"server.stdio_role": "reader"})
    server = build_server(settings, transport="memory", resources=[*discover_resources(), spec])
    other = principal_for(settings, "other", "reader")
    events: list[str] = []
    async with mcp.Client(server) as client, anyio.create_task_group() as tg:

        async def read() -> None:
            try:
                events.append((await client.read_resource("og://slow")).contents[0].text)
            except MCPError as exc:
                events.append(exc.message)

        for _ in range(5):
            tg.start_soon(read)
        with anyio.fail_after(10):
            while len(events) < 2:
                await anyio.sleep(0.02)
        refused = await client.call_tool("resolve_context", {"ids": ["ogmux-faq"], "level": "index"})
        served = await server.run_tool("resolve_context", {"ids": ["ogmux-faq"], "level": "index"}, other)
        release.set()
    await server.state.aclose()
    busy = "3 calls running (limits.calls_per_principal = 3); retry when one has finished"
    assert refused.is_error and busy in refused.content[0].text
    assert served.nodes and sorted(events) == [*[f"og://slow: local already has {busy}"] * 2, "read", "read", "read"]
    assert [r["outcome"] for r in _audit(tmp_path)].count("busy") == 3
