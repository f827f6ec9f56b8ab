"""Concurrent call slots per principal: one limit for all replicas in a real Redis, leases that free the slots
of a replica killed while holding them, renewal that keeps a long call's slot, and the outage modes; through
two servers' in-memory SDK clients sharing one Redis."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import anyio
import mcp
import pytest
from mcp.shared.exceptions import MCPError

from ogmux.server.app import build_server
from ogmux.server.callslots import CallsBusy, CallSlots
from ogmux.server.principal import principal_for
from ogmux.server.registry import ResourceSpec, discover_resources
from ogmux.server.settings import StateSettings, load_settings
from ogmux.server.state import SharedState
from tests.integration.engines import RedisServer, wait_for

BUSY = "p already has 2 calls running on all replicas (limits.calls_per_principal = 2); retry when one has finished"


def _replicas(url: str, n: int, lease_s: float = 30.0, **state) -> list[CallSlots]:
    """`n` replicas' call slots in one Redis (2 s per Redis call: a slow answer on a loaded machine is not an
    outage here)."""
    settings = StateSettings(url=url, **{"timeout_ms": 2000, **state})
    return [CallSlots(SharedState(settings), lease_s=lease_s) for _ in range(n)]


def test_one_limit_for_all_replicas(redis: RedisServer) -> None:
    a, b, c = _replicas(redis.url, 3)
    on_a, on_b = a.take("p", 2), b.take("p", 2)
    for replica in (a, b, c):
        with pytest.raises(CallsBusy) as busy:
            replica.take("p", 2)
        assert str(busy.value) == BUSY
    other = c.take("q", 2)  # another principal, other slots
    b.release(on_b)
    on_c = c.take("p", 2)  # a slot given back on one replica is free on every other
    with pytest.raises(CallsBusy):
        a.take("p", 2)
    a.release(on_a)
    c.release(on_c)
    c.release(other)
    a.take("p", 2)
    b.take("p", 2)
    for replica in (a, b, c):
        replica.close()


HOLDER = """
import sys, time
from ogmux.server.callslots import CallSlots
from ogmux.server.settings import StateSettings
from ogmux.server.state import SharedState
slots = CallSlots(SharedState(StateSettings(url=sys.argv[1], timeout_ms=2000)), lease_s=float(sys.argv[2]))
slots.take("p", 2); slots.take("p", 2)
print("held", flush=True)
time.sleep(60)
"""


def test_slots_of_a_killed_replica_are_free_within_one_lease(redis: RedisServer) -> None:
    lease = 1.0
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, redis.url, str(lease)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        [replica] = _replicas(redis.url, 1)
        time.sleep(lease * 1.5)  # the holder renews its leases while it lives
        with pytest.raises(CallsBusy, match="already has 2 calls running on all replicas"):
            replica.take("p", 2)
        holder.send_signal(signal.SIGKILL)  # no release, no more renewals
        holder.wait(10)
        killed = time.monotonic()
        while True:
            try:
                replica.take("p", 2)
                break
            except CallsBusy:
                # Freed by the lease, expected within one (1 s); ten leases only guard against a hang.
                assert time.monotonic() - killed < 10 * lease, "the killed replica's slots were never freed"
                time.sleep(0.05)
        replica.close()
    finally:
        holder.kill()
        holder.wait(10)


def test_a_long_call_keeps_its_slot_past_the_lease_and_idle_keys_expire(redis: RedisServer) -> None:
    import redis as redis_py

    a, b = _replicas(redis.url, 2, lease_s=0.6)
    slot = a.take("p", 1)
    time.sleep(2.0)  # over three leases: renewed every 0.2 s
    with pytest.raises(CallsBusy):
        b.take("p", 1)
    a.release(slot)
    b.release(b.take("p", 1))
    a.close()
    b.close()
    client = redis_py.Redis.from_url(redis.url)  # nothing left behind:
    wait_for(lambda: not client.exists("ogmux:calls:p"), "the idle slot key to expire", timeout=30)
    client.close()


def test_redis_outage_counts_locally_or_refuses_when_failing_closed(redis: RedisServer) -> None:
    [open_] = _replicas(redis.url, 1, retry_s=0.2)
    [closed] = _replicas(redis.url, 1, retry_s=0.2, fail="closed")
    shared = open_.take("p", 2)
    redis.stop()
    open_.release(shared)  # no error: the lease ends on its own
    local = [open_.take("p", 2), open_.take("p", 2)]
    with pytest.raises(CallsBusy) as busy:
        open_.take("p", 2)
    assert (
        str(busy.value)
        == "p already has 2 calls running (limits.calls_per_principal = 2); retry when one has finished"
    )
    with pytest.raises(CallsBusy) as refused:
        closed.take("p", 2)
    assert str(refused.value).startswith(
        "call refused: the running calls cannot be counted because shared state at"
    )
    assert "is unreachable" in str(refused.value) and "retry after" in str(refused.value)
    for slot in local:
        open_.release(slot)
    open_.take("p", 2)
    open_.close()
    closed.close()


async def test_two_servers_sharing_redis_enforce_one_limit_through_mcp(
    redis: RedisServer, tmp_path: Path
) -> None:
    """A principal holding its two slots with slow reads on one replica is refused on the other; another
    principal is served there."""
    entered, release = threading.Semaphore(0), threading.Event()

    def slow(ctx) -> str:
        entered.release()
        release.wait(10)
        return "read"

    spec = ResourceSpec("og://slow", "slow", "A slow read.", slow, "objectgraph")
    settings = load_settings(None, **{
        "roles": {"admin": {}, "reader": {"tools": ["server_info", "search_index", "resolve_context"], "scopes": ["public"]}},
        "server.stdio_role": "reader", "state.url": redis.url, "state.timeout_ms": 2000, "limits.calls_per_principal": 2,
        "audit.sink": "off",
    })  # fmt: skip
    one, two = (
        build_server(settings, transport="memory", resources=[*discover_resources(), spec]) for _ in range(2)
    )
    reads: list[str] = []
    async with mcp.Client(one) as first, mcp.Client(two) as second:
        async with anyio.create_task_group() as tg:

            async def read() -> None:
                reads.append((await first.read_resource("og://slow")).contents[0].text)

            for _ in range(2):
                tg.start_soon(read)
            for _ in range(2):
                with anyio.fail_after(10):
                    while not entered.acquire(blocking=False):
                        await anyio.sleep(0.02)
            refused = await second.call_tool("server_info", {})
            with pytest.raises(MCPError, match="on all replicas"):
                await second.read_resource("og://docs")
            other = await two.run_tool("server_info", {}, principal_for(settings, "other", "reader"))
            release.set()
        after = await second.call_tool("server_info", {})  # the slots were given back
    for server in (one, two):
        await server.state.aclose()
    assert refused.is_error and "local already has 2 calls running on all replicas" in refused.content[0].text
    assert other is not None and reads == ["read", "read"] and not after.is_error
