"""Live state of the backend pool: discovery, concurrent /health + /metrics polling, breakers, in-flight counts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, OrderedDict

import httpx

from ogmux.router.breaker import BreakerStore, CircuitBreaker
from ogmux.router.config import BackendConfig, RouterConfig
from ogmux.router.metrics import ReplicaMetrics, parse_metrics
from ogmux.router.types import ModelStatus, ReplicaStatus

__all__ = ["Pool", "Replica"]

log = logging.getLogger("ogmux.router")

_DEFAULT_TTFT_S = {"vllm": 0.05, "openai": 0.5, "anthropic": 0.6}
_DEFAULT_TPOT_S = {"vllm": 0.01, "openai": 0.02, "anthropic": 0.02}
_AFFINITY_SLOTS = 4096
_SLOW_POLLS_DOWN = 2


def _ewma(prev: float | None, dsum: float, dcount: float) -> float | None:
    if dcount <= 0:
        return prev
    recent = dsum / dcount
    return recent if prev is None else 0.5 * prev + 0.5 * recent


class Replica:
    """One replica URL of one backend, with its breaker, last metrics and ogmux's own in-flight count."""

    def __init__(self, backend: BackendConfig, url: str, config: RouterConfig, store: BreakerStore | None = None):
        self.backend = backend
        self.url = url
        self.breaker = CircuitBreaker(
            config.breaker.failure_threshold, config.breaker.cooldown_s, store=store, key=f"{backend.name}@{url}"
        )
        self.metrics: ReplicaMetrics | None = None
        self.healthy = True
        self.health_error = ""
        self.polled_at: float | None = None
        self.in_flight = 0
        self.served_len: int | None = None
        self.ttft_s: float | None = None
        self.itl_s: float | None = None
        self.peer_ttft_s: float | None = None
        self.peer_itl_s: float | None = None
        self.discovered = False
        self.slow_polls = 0

    @property
    def polled(self) -> bool:
        return self.backend.kind == "vllm"

    def available(self) -> bool:
        return self.healthy and self.breaker.available()

    def queue(self) -> tuple[float, float]:
        """(running, waiting), never below the requests ogmux itself has in flight here."""
        m = self.metrics
        running = max(m.running if m else 0.0, float(self.in_flight))
        return running, (m.waiting if m else 0.0)

    def unloaded(self) -> bool:
        """At most one request running and none waiting: its latencies describe an idle replica."""
        running, waiting = self.queue()
        return running <= 1 and waiting == 0

    def load_share(self) -> float:
        """0..1 pressure: the larger of KV-cache use and a saturating queue measure."""
        running, waiting = self.queue()
        q = (running + 4 * waiting) / (running + 4 * waiting + 4)
        return max(q, self.metrics.kv_cache_usage if self.metrics else 0.0)

    def predicted_latency_s(self, max_tokens: int) -> float:
        """Predicted seconds to finish: one service time stretched by batch size, queue and KV pressure.

        service = TTFT + TPOT × expected output tokens (recent means from /metrics, see `observe`;
        for a replica that has served nothing yet, the mean of its unloaded measured siblings,
        else a default per kind);
        × (1 + running/2 + waiting): decode slows with batch size, queued requests wait a turn;
        ÷ (1 − KV use): a nearly full KV cache means preemption and recomputation.
        """
        kind = self.backend.kind
        m = self.metrics
        ttft = self.ttft_s or self.peer_ttft_s or _DEFAULT_TTFT_S[kind]
        tpot = self.itl_s or self.peer_itl_s or _DEFAULT_TPOT_S[kind]
        running, waiting = self.queue()
        kv = m.kv_cache_usage if m else 0.0
        service = ttft + tpot * min(max_tokens, 256)
        return service * (1 + running / 2 + waiting) / max(0.1, 1 - kv)

    def observe(self, new: ReplicaMetrics) -> None:
        """Take a poll's metrics; TTFT/ITL estimates follow the observations since the previous poll (EWMA ½).

        An idle replica with nothing new forgets its estimates (then its siblings' apply): latencies
        measured while it was busy say nothing about it now.
        """
        old = self.metrics
        idle = new.running == 0 and new.waiting == 0 and self.in_flight == 0
        if idle and (old is None or new.ttft_count == old.ttft_count):
            self.ttft_s = self.itl_s = None
        elif old is not None:
            self.ttft_s = _ewma(self.ttft_s, new.ttft_sum_s - old.ttft_sum_s, new.ttft_count - old.ttft_count)
            self.itl_s = _ewma(self.itl_s, new.itl_sum_s - old.itl_sum_s, new.itl_count - old.itl_count)
        else:
            self.ttft_s, self.itl_s = new.ttft_mean_s, new.itl_mean_s
        self.metrics = new

    def status(self, now: float) -> ReplicaStatus:
        m = self.metrics or ReplicaMetrics()
        return ReplicaStatus(
            url=self.url,
            healthy=self.healthy,
            breaker=self.breaker.state,
            retry_in_s=round(self.breaker.retry_in_s(), 3),
            last_error=self.breaker.last_error or self.health_error,
            in_flight=self.in_flight,
            running=m.running,
            waiting=m.waiting,
            kv_cache_usage=m.kv_cache_usage,
            prefix_cache_hit_rate=m.prefix_cache_hit_rate,
            ttft_mean_s=m.ttft_mean_s,
            polled_age_s=round(now - self.polled_at, 3) if self.polled_at is not None else None,
        )


class Pool:
    """All replicas of all backends; `start()` discovers and polls once, then polls in the background.

    With a `store`, breaker cooldowns are shared with the other ogmux replicas using that store.
    """

    def __init__(
        self,
        config: RouterConfig,
        transport: httpx.AsyncBaseTransport | None = None,
        store: BreakerStore | None = None,
    ):
        self.config = config
        self.replicas: dict[str, list[Replica]] = {
            b.name: [Replica(b, u, config, store) for u in b.replicas] for b in config.backends
        }
        self.expert_usage: dict[str, Counter[str]] = {}
        self._affinity: OrderedDict[tuple[str, str, str], str] = OrderedDict()  # (model, principal, session)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None

    def context_length(self, backend: BackendConfig) -> int | None:
        """Configured context length, tightened by what vLLM replicas report as max_model_len."""
        lens = [r.served_len for r in self.replicas[backend.name] if r.served_len]
        known = [x for x in [backend.context_length, min(lens) if lens else None] if x]
        return min(known) if known else None

    async def start(self) -> None:
        if self._client is not None:
            return
        self._client = httpx.AsyncClient(timeout=self.config.probe_timeout_s, transport=self._transport)
        await asyncio.gather(*(self._discover(r) for r in self._polled()))
        await self.poll_once()
        self._task = asyncio.create_task(self._loop(), name="ogmux-router-poller")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _polled(self) -> list[Replica]:
        return [r for reps in self.replicas.values() for r in reps if r.polled]

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_interval_s)
            try:
                await self.poll_once()
            except Exception:  # a bad poll must not end polling; the next one may succeed
                log.exception("pool poll failed")

    async def poll_once(self) -> None:
        """Poll /health and /metrics of every vLLM replica concurrently (each bounded by the probe timeout)."""
        await asyncio.gather(*(self._poll(r) for r in self._polled()))
        for reps in self.replicas.values():
            seen = [(r.ttft_s, r.itl_s) for r in reps if r.ttft_s and r.itl_s and r.unloaded()]
            for r in reps:
                r.peer_ttft_s = sum(t for t, _ in seen) / len(seen) if seen else None
                r.peer_itl_s = sum(i for _, i in seen) / len(seen) if seen else None

    async def _discover(self, r: Replica) -> None:
        assert self._client is not None
        try:
            resp = await self._client.get(f"{r.url}/v1/models")
            resp.raise_for_status()
            data = resp.json().get("data", [])
        except (httpx.HTTPError, ValueError) as exc:
            r.healthy, r.health_error = False, f"discovery failed: {exc!r}"
            return
        served = {d.get("id"): d for d in data}
        entry = served.get(r.backend.model)
        if entry is None:
            r.healthy = False
            r.health_error = f"model {r.backend.model!r} not served here (serves {sorted(served)})"
            return
        r.served_len = entry.get("max_model_len")
        r.discovered = True

    async def _poll(self, r: Replica) -> None:
        assert self._client is not None
        health, metrics = await asyncio.gather(
            self._client.get(f"{r.url}/health"), self._client.get(f"{r.url}/metrics"), return_exceptions=True
        )
        r.polled_at = time.monotonic()
        if isinstance(health, BaseException) or health.status_code != 200:
            # A refused connection or a non-200 answer is definite; a slow answer on a busy host is
            # only believed the second time in a row.
            r.slow_polls = r.slow_polls + 1 if isinstance(health, httpx.TimeoutException) else _SLOW_POLLS_DOWN
            if r.slow_polls >= _SLOW_POLLS_DOWN:
                r.healthy = False
                r.health_error = f"/health: {health!r}" if isinstance(health, BaseException) else f"/health: HTTP {health.status_code}"
            return
        r.slow_polls = 0
        if not r.discovered:
            await self._discover(r)
            if not r.discovered:
                return
        r.healthy, r.health_error = True, ""
        if not isinstance(metrics, BaseException) and metrics.status_code == 200:
            r.observe(parse_metrics(metrics.text, r.backend.model))

    def affinity(self, backend: str, principal: str, session: str) -> str | None:
        return self._affinity.get((backend, principal, session)) if session else None

    def remember(self, backend: str, principal: str, session: str, url: str) -> None:
        if not session:
            return
        key = (backend, principal, session)
        self._affinity[key] = url
        self._affinity.move_to_end(key)
        while len(self._affinity) > _AFFINITY_SLOTS:
            self._affinity.popitem(last=False)

    def record_experts(self, backend: str, counts: dict[str, int]) -> None:
        self.expert_usage.setdefault(backend, Counter()).update(counts)

    def status(self) -> list[ModelStatus]:
        now = time.monotonic()
        out = []
        for b in self.config.backends:
            usage = self.expert_usage.get(b.name)
            out.append(
                ModelStatus(
                    name=b.name,
                    kind=b.kind,
                    model=b.model,
                    privacy=b.privacy or "hosted",
                    capabilities=list(b.capabilities),
                    context_length=self.context_length(b),
                    price_in_per_mtok=b.price_in_per_mtok,
                    price_out_per_mtok=b.price_out_per_mtok,
                    quality=b.quality,
                    replicas=[r.status(now) for r in self.replicas[b.name]],
                    expert_usage=dict(usage) if usage else None,
                )
            )
        return out
