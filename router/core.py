"""The Router: decide (filters + policy over live pool state), then call with one deadline, retries and fallback."""

from __future__ import annotations

import asyncio
import functools
import itertools
import math
import threading
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx

from ogmux.router.accounting import Ledger, MemoryLedger, cost_usd
from ogmux.router.backends import Backend, Completion, Delta, StreamAssembler, make_backend
from ogmux.router.breaker import BreakerStore
from ogmux.router.calibration import Calibration, CalibrationError
from ogmux.router.config import RouterConfig
from ogmux.router.errors import (
    BackendError,
    BackendUnavailableError,
    StreamInterruptedError,
    UnknownPolicyError,
    UpstreamRejectedError,
)
from ogmux.router.policies import Predictor, RouteInput, apply_filters, replica_order, select
from ogmux.router.pool import Pool, Replica
from ogmux.router.tokens import count_message_tokens, count_tokens
from ogmux.router.types import Attempt, ChatRequest, ChatResult, Decision, ModelStatus, Usage
from ogmux.text import plural

__all__ = ["OnDelta", "Router", "load_signals"]

OnDelta = Callable[[Delta], Awaitable[None]]
_POLICIES = ("static", "cost_quality", "cascade", "load")


def load_signals(config: RouterConfig) -> tuple[Predictor | None, Calibration | None]:
    """The predictor and calibration files named in `config`, checked to belong together.

    A calibration certifies thresholds on one predictor's scores; under another predictor its
    guarantee means nothing, so a mismatch is an error rather than a silently void α/δ.
    """
    predictor = calibration = None
    if config.predictor_path is not None:
        from ogmux.router.quality import QualityPredictor

        predictor = QualityPredictor.load(config.predictor_path)
    if config.calibration_path is not None:
        calibration = Calibration.load(config.calibration_path)
        expected = calibration.predictor_sha256
        found = predictor.fingerprint() if predictor is not None else None
        if expected is not None and found != expected:
            raise CalibrationError(
                f"{config.calibration_path} was fitted on the scores of predictor {expected[:19]}, but "
                + (
                    f"predictor_path {config.predictor_path} is {found[:19]}"
                    if found
                    else "no predictor_path is set"
                )
                + f"; recalibrate with `ogmux router calibrate --predictor {config.predictor_path or 'FILE'}`"
            )
    return predictor, calibration


def _reported(tokens: object, count: Callable[[], int]) -> int:
    """A backend's token count when it is a whole number above zero, else `count()`."""
    return tokens if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens > 0 else count()


class Router:
    """Chooses model and replica together and runs the call chain.

    `api_keys` maps backend name → key (resolved by the caller from `api_key_env`). The
    async methods must run on one event loop: the one `start()` ran on.
    """

    def __init__(
        self,
        config: RouterConfig,
        api_keys: dict[str, str] | None = None,
        predictor: Predictor | None = None,
        calibration: Calibration | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        breaker_store: BreakerStore | None = None,
        ledger: Ledger | None = None,
    ):
        self.config = config
        self.pool = Pool(config, transport, breaker_store)
        self.ledger = ledger or MemoryLedger(config.role_budgets_usd, config.budget_period)
        self.predictor = predictor
        self.calibration = calibration
        self._keys = api_keys or {}
        self._clients: dict[tuple[str, str], Backend] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._starting: asyncio.Future[None] | None = None

    @classmethod
    def from_config(
        cls,
        config: RouterConfig,
        api_keys: dict[str, str] | None = None,
        breaker_store: BreakerStore | None = None,
        ledger: Ledger | None = None,
    ) -> Router:
        """Build a router, loading the predictor and calibration files named in the config."""
        return cls(config, api_keys, *load_signals(config), breaker_store=breaker_store, ledger=ledger)

    # lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Discover vLLM replicas, poll once, and start background polling on the running loop."""
        if self._starting is None:
            self.loop = asyncio.get_running_loop()
            self._starting = asyncio.ensure_future(self.pool.start())
        await asyncio.shield(self._starting)

    async def aclose(self) -> None:
        self.ledger.close()
        await self.pool.aclose()
        clients, self._clients = list(self._clients.values()), {}
        for c in clients:
            await c.aclose()

    def run_in_background(self) -> asyncio.AbstractEventLoop:
        """Start the router on its own daemon thread and loop (for synchronous callers); return that loop."""
        if self._thread is not None:
            assert self.loop is not None
            return self.loop
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="ogmux-router", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.start(), loop).result()
        return loop

    def stop_background(self) -> None:
        if self._thread is None or self.loop is None:
            return
        asyncio.run_coroutine_threadsafe(self.aclose(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self._thread = None

    # decisions -----------------------------------------------------------------------------------
    def models(self) -> list[ModelStatus]:
        return self.pool.status()

    def _measure(self, request: ChatRequest, policy: str) -> tuple[int, float | None]:
        """The prompt's tokens and, for the policies that use it, the predictor's score of the prompt."""
        uses_score = self.predictor is not None and policy != "static"
        return count_message_tokens(request.messages), self.predictor.predict(
            request.prompt()
        ) if uses_score else None

    async def decide_async(self, request: ChatRequest, role: str = "", principal: str = "") -> Decision:
        """`decide`, with the prompt measured on a worker thread: counting and scoring a 4 MB prompt
        takes seconds of CPU, which on the event loop would stall every other request."""
        measured = await asyncio.to_thread(
            self._measure, request, request.policy or self.config.default_policy
        )
        return self.decide(request, role, measured, principal)

    def decide(
        self,
        request: ChatRequest,
        role: str = "",
        measured: tuple[int, float | None] | None = None,
        principal: str = "",
    ) -> Decision:
        """Pick model and replica for `request` from the current pool state, with the full explanation;
        the prompt is measured here unless `measured` (from `_measure`) is given. A `session` key is
        the principal's own: another principal's equal key neither shows nor follows its affinity."""
        t0 = time.perf_counter()
        policy = request.policy or self.config.default_policy
        if policy not in _POLICIES:
            raise UnknownPolicyError(f"unknown policy {policy!r}; choose one of {list(_POLICIES)}")
        prompt_tokens, score = measured or self._measure(request, policy)
        inp = RouteInput(request, role, prompt_tokens, self.ledger.remaining_usd(role), principal)
        backends, filters = apply_filters(self.config, self.pool, inp)
        # A calibration file without a `source` is named by its file name: callers never see server paths.
        source = self.config.calibration_path.name if self.config.calibration_path else ""
        sel = select(policy, self.config, self.pool, inp, backends, score, self.calibration, source)
        return Decision(
            policy=policy,
            prompt_tokens=inp.prompt_tokens,
            filters=filters,
            candidates=sel.candidates,
            model=sel.model,
            replica=sel.replica,
            reason=sel.reason,
            guarantee=sel.guarantee,
            predictor_score=sel.predictor_score,
            decision_time_us=round((time.perf_counter() - t0) * 1e6, 1),
        )

    def _plan(self, decision: Decision, request: ChatRequest) -> list[Replica]:
        """Chosen replica, then the model's other replicas, then other eligible models (fallback)."""
        by_url = {r.url: r for r in self.pool.replicas[decision.model]}
        first = by_url[decision.replica]
        plan = [first] + [
            r for r in replica_order(self.pool, decision.model, request.max_tokens) if r is not first
        ]
        seen = {decision.model}
        for c in decision.candidates:
            if c.model not in seen:
                seen.add(c.model)
                plan += replica_order(self.pool, c.model, request.max_tokens)
        return plan

    def _client(self, r: Replica) -> Backend:
        key = (r.backend.name, r.url)
        if key not in self._clients:
            self._clients[key] = make_backend(r.backend, r.url, self._keys.get(r.backend.name, ""))
        return self._clients[key]

    # calls ---------------------------------------------------------------------------------------
    async def chat(
        self,
        request: ChatRequest,
        principal: str = "",
        role: str = "",
        on_delta: OnDelta | None = None,
    ) -> ChatResult:
        """Run `request`: decide, then try the plan under one deadline.

        Retryable failures move on along the plan, and round again to replicas that are still
        available (a dropped connection or a 5xx leaves the breaker closed below its threshold),
        with exponential backoff, up to `retry.max_attempts` attempts in all.

        With `on_delta` the answer is streamed and each piece of text or of a tool call is passed
        on as it arrives; a fallback happens only before the first piece was passed on. The
        request is charged once, on success, with the backend's reported usage; a stream that breaks
        or is cancelled after it started is charged for the prompt and what arrived. Until then the
        role's budget holds the call's largest estimate, so concurrent calls cannot overspend it.
        """
        decision = await self.decide_async(request, role, principal)
        plan = self._plan(decision, request)
        held = self.ledger.hold(
            role,
            max(cost_usd(r.backend, decision.prompt_tokens, request.max_tokens * request.n) for r in plan),
        )
        try:
            return await self._run(request, decision, plan, principal, role, on_delta)
        finally:
            self.ledger.release(held)

    async def _run(
        self,
        request: ChatRequest,
        decision: Decision,
        plan: list[Replica],
        principal: str,
        role: str,
        on_delta: OnDelta | None,
    ) -> ChatResult:
        """Try `plan` under one deadline (see `chat`)."""
        budget = min(request.timeout_s or self.config.request_timeout_s, self.config.request_timeout_s)
        deadline = time.monotonic() + budget
        retry = self.config.retry
        attempts: list[Attempt] = []
        order, idle = itertools.cycle(plan), 0
        started, out_of_time = time.monotonic(), False
        overflowed = 0.0  # largest context a backend said the prompt does not fit

        def attempted(r: Replica, outcome: str, t0: float) -> None:
            attempts.append(
                Attempt(model=r.backend.name, replica=r.url, outcome=outcome, elapsed_s=time.monotonic() - t0)
            )

        while len(attempts) < retry.max_attempts and idle < len(plan):
            r = next(order)
            if attempts and (not r.available() or self._context(r) <= overflowed):
                idle += 1
                continue
            idle = 0
            if attempts:
                pause = min(retry.backoff_base_s * 2 ** (len(attempts) - 1), retry.backoff_max_s)
                if time.monotonic() + pause >= deadline:
                    out_of_time = True
                    break
                await asyncio.sleep(pause)
            left = deadline - time.monotonic()
            if left <= 0:
                out_of_time = True
                break
            t0 = time.monotonic()
            sent, answer = [False], StreamAssembler(request.n)
            r.breaker.acquire()
            r.in_flight += 1
            first = min(left, retry.attempt_timeout_s or left)
            end = asyncio.get_running_loop().time() + left
            try:
                async with asyncio.timeout(first) as limit:
                    # Once the answer has started, it may use the rest of the deadline.
                    comp = await self._call(
                        r, request, left, on_delta, sent, functools.partial(limit.reschedule, end), answer
                    )
            except UpstreamRejectedError as exc:
                # The prompt did not fit after all (the router counts with cl100k, the model with its
                # own tokenizer): a model with a longer context may still take it.
                if not exc.context_overflow or sent[0]:
                    raise
                overflowed = max(overflowed, self._context(r))
                attempted(r, str(exc), t0)
                if not any(self._context(p) > overflowed for p in plan):
                    raise
                continue
            except (BackendError, TimeoutError) as exc:
                # Unreachable or rate-limited: open at once; a slow answer counts towards the threshold.
                hard = isinstance(exc, BackendError) and (exc.unreachable or exc.status == 429)
                waited = left if sent[0] else first
                msg = str(exc) or f"{r.backend.name}@{r.url}: no answer within {waited:.1f}s"
                shared = exc.summary if isinstance(exc, BackendError) else msg  # seen by every caller
                r.breaker.failure(shared, getattr(exc, "retry_after_s", None), hard=hard)
                attempted(r, msg, t0)
                if sent[0]:
                    self._charge(decision, r, answer.completion(), principal, role)
                    raise StreamInterruptedError(
                        f"stream broke after the answer started, so no fallback: {msg}"
                    ) from exc
                continue
            except asyncio.CancelledError:
                if sent[0]:
                    self._charge(decision, r, answer.completion(), principal, role)
                raise
            finally:
                r.in_flight -= 1
                r.breaker.release()
            r.breaker.success()
            attempted(r, "ok", t0)
            return self._finish(request, decision, r, comp, attempts, principal, role)
        if out_of_time:
            why = f"the {budget:.1f} s deadline left no time for another"
        elif len(attempts) >= retry.max_attempts:
            why = "router.retry.max_attempts reached"
        else:
            why = "no replica of the plan left to try (breakers open)"
        raise BackendUnavailableError(
            f"no backend answered: {plural(len(attempts), 'attempt')} in {time.monotonic() - started:.1f} s, {why}: "
            + ("; ".join(a.outcome for a in attempts) or "none was tried")
        )

    def _context(self, r: Replica) -> float:
        """The replica's context length in tokens (unknown counts as unlimited)."""
        return self.pool.context_length(r.backend) or math.inf

    async def _call(
        self,
        r: Replica,
        req: ChatRequest,
        timeout: float,
        on_delta: OnDelta | None,
        sent: list[bool],
        started: Callable[[], None],
        answer: StreamAssembler,
    ) -> Completion:
        client = self._client(r)
        if on_delta is None:
            return await client.complete(req, timeout)
        async for d in client.stream(req, timeout):
            answer.add(d)
            if d.has_answer():
                if not sent[0]:
                    sent[0] = True
                    started()
                await on_delta(d)
        return answer.completion()

    def _charge(self, decision: Decision, r: Replica, comp: Completion, principal: str, role: str) -> Usage:
        """Charge `comp` to the principal and role. A token count the backend reports below zero, not as
        a whole number, or as zero for a prompt or answer that exists is replaced by the router's own
        count (cl100k), so no report can refund the budget or make a call free."""

        def answer_tokens() -> int:
            calls = [c for choice in comp.tool_calls for c in choice]
            return sum(map(count_tokens, comp.texts)) + sum(count_tokens(c.name + c.arguments) for c in calls)

        prompt = _reported(comp.prompt_tokens, lambda: decision.prompt_tokens)
        completion = _reported(comp.completion_tokens, answer_tokens)
        cost = cost_usd(r.backend, prompt, completion)
        self.ledger.charge(uuid.uuid4().hex, principal, role, prompt, completion, cost)
        return Usage(prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost)

    def _finish(
        self,
        req: ChatRequest,
        decision: Decision,
        r: Replica,
        comp: Completion,
        attempts: list[Attempt],
        principal: str,
        role: str,
    ) -> ChatResult:
        usage = self._charge(decision, r, comp, principal, role)
        self.pool.remember(r.backend.name, principal, req.session, r.url)
        if comp.routed_experts:
            for counts in comp.routed_experts:
                self.pool.record_experts(r.backend.name, counts)
        return ChatResult(
            choices=comp.texts,
            tool_calls=comp.tool_calls,
            finish_reasons=comp.finish_reasons,
            model=r.backend.name,
            replica=r.url,
            usage=usage,
            decision=decision,
            attempts=attempts,
            routed_experts=comp.routed_experts,
        )

    async def complete(
        self, messages: list[dict[str, str]], principal: str = "", role: str = "", **options: object
    ) -> str:
        """Text of the first choice for plain `messages` ({role, content} dicts); options are ChatRequest fields."""
        req = ChatRequest.model_validate({"messages": messages, **options})
        return (await self.chat(req, principal, role)).choices[0]
