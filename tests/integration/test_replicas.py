"""Two real ogmux replicas behind haproxy, sharing Redis (and the corpus in PostgreSQL).

(a) one principal's burst is allowed once across both replicas; (b) both replicas answer from
one pushed corpus and see a new push; (c) killing a replica during a bounded run of read-only
calls through haproxy loses no call; (d) Redis and PostgreSQL restarts are survived, with clear
errors while they are down and no data lost after; and a model backend one replica saw fail is
marked open on the other.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import mcp
import pytest
from mcp.client.streamable_http import streamable_http_client

from ogmux.server.auth import hash_token
from tests.integration.engines import (
    Haproxy,
    OgmuxReplica,
    PostgresServer,
    RedisServer,
    haproxy,
    ogmux_replicas,
    postgres_server,
    redis_server,
)
from tests.integration.procs import REPO, refused_port

DEMO_CORPUS = REPO / "ogmux" / "demo" / "corpus"
TOKENS = {"burst-a": "burst", "burst-d": "burst", "reader": "reader"}  # principal -> role
BURST = 5


def _config(path: Path, redis_url: str, fail: str, audit: Path, dead_port: int, extra: str = "") -> Path:
    """A replica's config; `dead_port` is the port of a model backend that refuses connections."""
    tokens = "".join(
        f'[[tokens]]\nprincipal = "{p}"\nrole = "{role}"\nhash = "{hash_token(_token(p))}"\n\n'
        for p, role in TOKENS.items()
    )
    path.write_text(
        f"""[server]
json_response = true
stdio_role = "reader"
log_level = "INFO"

[audit]
sink = "file"
path = "{audit}"

[state]
url = "{redis_url}"
fail = "{fail}"
retry_s = 0.5
# A slow answer of a loaded machine is not an outage; a stopped Redis refuses at once anyway.
timeout_ms = 2000

[roles.burst]
tools = ["server_info", "search_index"]
rate_limit = {{ rate = 0.001, burst = {BURST} }}

[roles.reader]
tools = ["server_info", "search_index", "resolve_context", "chat", "list_models"]
rate_limit = {{ rate = 1000.0, burst = 1000 }}

[router.breaker]
cooldown_s = 60.0

[[router.backends]]
name = "gone"
kind = "openai"
model = "m"
replicas = ["http://127.0.0.1:{dead_port}/v1"]

{tokens}{extra}"""
    )
    return path


def _token(principal: str) -> str:
    return f"ogm_test-{principal}-0123456789abcdef"


def _client(url: str, principal: str) -> mcp.Client:
    """An SDK client for `principal` whose HTTP requests wait up to 30 s for an answer."""
    headers = {"Authorization": f"Bearer {_token(principal)}"}
    return mcp.Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=30)))


async def _call(url: str, principal: str, tool: str = "server_info", args: dict | None = None):
    """One tool call in a session of its own."""
    async with _client(url, principal) as client:
        return await client.call_tool(tool, args or {})


def _text(result) -> str:
    return result.content[0].text if result.content else ""


@dataclass
class Deployment:
    redis: RedisServer
    postgres: PostgresServer
    corpus: Path | None  # the pushed corpus; None when this build has no corpus store
    replicas: list[OgmuxReplica]  # [0]: [state] fail = "open", [1]: fail = "closed"
    proxy: Haproxy
    workdir: Path
    dead_port: int  # the model backend "gone": refuses connections


def _push(corpus: Path, dsn: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "ogmux", "corpus", "push", str(corpus), "--store", dsn]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Redis, PostgreSQL with the demo corpus plus a marker document pushed, two replicas, haproxy."""
    work = tmp_path_factory.mktemp("replicas")
    with redis_server(work / "redis", appendonly=True) as redis, postgres_server() as pg, refused_port() as dead:
        store = ""
        corpus = work / "corpus"
        shutil.copytree(DEMO_CORPUS, corpus)
        (corpus / "scale-first.md").write_text("# Scale notes\n\n## Wombat placement\n\nWombats sleep in burrows.\n")
        pushed = _push(corpus, pg.dsn)
        if "invalid choice: 'corpus'" in pushed.stderr or "invalid choice: 'push'" in pushed.stderr:
            corpus = None  # this build has no corpus store: the store tests skip
        else:
            assert pushed.returncode == 0, pushed.stderr
            store = f'[objectgraph]\nstore = "{pg.dsn}"\n'
        configs = [
            _config(work / f"ogmux-{i}.toml", redis.url, fail, work / f"audit-{i}.jsonl", dead, store)
            for i, fail in enumerate(["open", "closed"])
        ]
        with ogmux_replicas(configs, work) as replicas, haproxy(work, [r.port for r in replicas]) as proxy:
            yield Deployment(redis, pg, corpus, replicas, proxy, work, dead)


def _served(audit: Path) -> int:
    return len(audit.read_text().splitlines()) if audit.exists() else 0


async def test_a_burst_is_allowed_once_across_replicas(deployment: Deployment) -> None:
    r0, r1 = deployment.replicas
    ok = [await _call((r0, r1)[i % 2].url, "burst-a") for i in range(BURST)]
    assert not any(r.is_error for r in ok), [_text(r) for r in ok if r.is_error]
    for url in (r0.url, r1.url, deployment.proxy.url):
        refused = await _call(url, "burst-a")
        assert refused.is_error
        assert "rate limit exceeded for principal 'burst-a' (5 calls at once" in _text(refused)
    assert not (await _call(deployment.proxy.url, "reader")).is_error  # another principal's bucket


async def test_a_backend_failure_seen_by_one_replica_opens_its_breaker_on_all(deployment: Deployment) -> None:
    r0, r1 = deployment.replicas

    async def breaker(url: str) -> dict:
        result = await _call(url, "reader", "list_models")
        assert not result.is_error, _text(result)
        return result.structured_content["models"][0]["replicas"][0]

    assert (await breaker(r1.url))["breaker"] == "closed"
    chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
    failed = await _call(r0.url, "reader", "chat", chat)
    assert failed.is_error and "no backend answered" in _text(failed)
    await asyncio.sleep(0.3)  # replicas re-read shared cooldowns at most every 0.2 s
    seen = await breaker(r1.url)  # r1 never called the backend
    assert seen["breaker"] == "open" and seen["retry_in_s"] > 30, seen
    assert f"127.0.0.1:{deployment.dead_port}" in seen["last_error"] or "connect" in seen["last_error"].lower(), seen


async def test_killing_a_replica_loses_no_read_only_call(deployment: Deployment) -> None:
    r1 = deployment.replicas[1]
    audits = [deployment.workdir / f"audit-{i}.jsonl" for i in range(2)]
    before = [_served(a) for a in audits]
    calls, workers, kill_after = 80, 4, 20
    done: list[bool] = []
    errors: list[str] = []

    async def worker(n: int) -> None:
        async with _client(deployment.proxy.url, "reader") as client:
            for i in range(n):
                try:
                    result = await client.call_tool("search_index", {"query": "rate limit", "k": 3})
                except Exception as exc:  # noqa: BLE001 - a lost call, counted below
                    errors.append(f"call {i}: {exc!r}")
                    continue
                done.append(not result.is_error)
                if result.is_error:
                    errors.append(_text(result))

    async def killer() -> None:
        while len(done) < kill_after and len(done) + len(errors) < calls:
            await asyncio.sleep(0.005)
        await asyncio.to_thread(r1.kill)

    await asyncio.gather(killer(), *(worker(calls // workers) for _ in range(workers)))
    try:
        assert errors == []
        assert len(done) == calls and all(done)
        served = [_served(a) - b for a, b in zip(audits, before, strict=True)]
        assert served[1] > 0 and served[0] > calls // 2  # both served; the survivor took the rest
    finally:
        await asyncio.to_thread(r1.start)
        await _until_haproxy_uses(deployment, audits[1])


async def _until_haproxy_uses(deployment: Deployment, audit: Path, timeout: float = 20) -> None:
    """Wait until calls through haproxy reach the replica writing `audit` again (after its restart)."""
    deadline = time.monotonic() + timeout
    before = _served(audit)
    while _served(audit) == before:
        assert time.monotonic() < deadline, "haproxy did not send calls to the restarted replica"
        assert not (await _call(deployment.proxy.url, "reader")).is_error
        await asyncio.sleep(0.1)


async def test_redis_restart_is_survived(deployment: Deployment) -> None:
    open_r, closed_r = deployment.replicas
    assert f"· shared state {deployment.redis.url} (fail open)" in open_r.log_text()
    for _ in range(BURST):
        assert not (await _call(open_r.url, "burst-d")).is_error
    assert "rate limit exceeded" in _text(await _call(closed_r.url, "burst-d"))
    deployment.redis.stop()
    try:
        # fail = "open": served from the replica's own (full) bucket; fail = "closed": a clear refusal.
        local = [await _call(open_r.url, "burst-d") for _ in range(3)]
        assert not any(r.is_error for r in local), [_text(r) for r in local]
        refused = await _call(closed_r.url, "reader")
        assert refused.is_error
        assert _text(refused).startswith(
            f"call refused: the rate limit cannot be checked because shared state at {deployment.redis.url} "
            "is unreachable"
        )
        await asyncio.sleep(0.6)  # past the back-off: the next call starts a background ping, still down
        assert not (await _call(open_r.url, "reader")).is_error
        await asyncio.sleep(0.1)
    finally:
        deployment.redis.start()
    await asyncio.sleep(0.6)
    for r in (open_r, closed_r):
        await _until_logged(r, f"shared state at {deployment.redis.url} is reachable again")
    # The shared bucket survived the restart (append-only file): burst-d is still spent everywhere.
    for r in (open_r, closed_r):
        assert "rate limit exceeded for principal 'burst-d'" in _text(await _call(r.url, "burst-d"))
    assert not (await _call(closed_r.url, "reader")).is_error
    warnings = [line for line in open_r.log_text().splitlines() if line.startswith("WARNING ogmux.state")]
    assert len(warnings) == 1, warnings  # one line for the whole outage, not one per call
    assert 'serving with this replica\'s local state until it returns ([state] fail = "open")' in warnings[0]


async def _until_logged(replica: OgmuxReplica, text: str, timeout: float = 20) -> None:
    """Call `replica` until its log holds `text` (each call past the back-off starts a background ping)."""
    deadline = time.monotonic() + timeout
    while text not in replica.log_text():
        assert time.monotonic() < deadline, f"{text!r} not in the replica's log"
        await _call(replica.url, "reader")
        await asyncio.sleep(0.1)


# --- the corpus in PostgreSQL --------------------------------------------------------------------------
def _store(deployment: Deployment) -> Path:
    if deployment.corpus is None:
        pytest.skip("corpus store not available: `ogmux corpus push` does not exist")
    return deployment.corpus


async def _top_ids(url: str, query: str) -> list[str]:
    result = await _call(url, "reader", "search_index", {"query": query, "k": 3})
    assert not result.is_error, _text(result)
    return [e["id"] for e in result.structured_content["entries"]]


async def _top_docs(url: str, query: str) -> set[str]:
    return {i.split("#")[0] for i in await _top_ids(url, query)}


async def test_replicas_answer_from_one_pushed_corpus_and_see_a_new_push(deployment: Deployment) -> None:
    corpus, pg, replicas = _store(deployment), deployment.postgres, deployment.replicas
    for r in replicas:
        assert "scale-first" in await _top_docs(r.url, "wombat burrows")
        assert "scale-second" not in await _top_docs(r.url, "quokka island")
    (corpus / "scale-second.md").write_text("# More notes\n\n## Quokka census\n\nQuokkas live on an island.\n")
    pushed = _push(corpus, pg.dsn)
    assert pushed.returncode == 0, pushed.stderr

    async def all_see_it() -> bool:
        return all(["scale-second" in await _top_docs(r.url, "quokka island") for r in replicas])

    deadline = time.monotonic() + 30
    while not await all_see_it():  # no restart: replicas switch to the new version
        assert time.monotonic() < deadline, "a replica still serves the previous corpus version"
        await asyncio.sleep(0.5)


async def test_postgres_restart_is_survived(deployment: Deployment) -> None:
    _store(deployment)
    pg, replicas = deployment.postgres, deployment.replicas
    before = {r.url: await _top_ids(r.url, "wombat burrows") for r in replicas}
    await asyncio.to_thread(pg.stop)
    try:
        for r in replicas:
            t0 = time.monotonic()
            down = await _call(r.url, "reader", "search_index", {"query": "wombat burrows", "k": 3})
            assert time.monotonic() - t0 < 10  # an answer, not a hang
            assert down.is_error
            text = _text(down).lower()
            assert any(w in text for w in ("store", "postgres", "database")), text
            assert "traceback" not in text
    finally:
        await asyncio.to_thread(pg.start)
    for r in replicas:
        ids = await _top_ids(r.url, "wombat burrows")  # the first call may reconnect
        assert ids == before[r.url]  # nothing lost
