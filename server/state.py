"""State shared by ogmux replicas in Redis (`[state].url`): rate-limit buckets, call slots and breaker
cooldowns.

Every Redis call is bounded by `[state].timeout_ms`. When a call fails, one warning is logged for the
whole outage and calls stop using Redis; every `[state].retry_s` a background thread pings it, and
calls use it again once a ping succeeds, so only the call that found the outage waited on it.
Meanwhile callers fall back to this replica's own state (or, for rate limits with
`[state].fail = "closed"`, refuse the call).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit, urlunsplit

from ogmux.server.context import AppState
from ogmux.server.settings import Settings, StateSettings

if TYPE_CHECKING:  # redis is imported when a [state].url is configured, not by every replica
    import redis

__all__ = ["Leases", "SharedState", "StateUnavailable", "redact_url", "shared_state"]

log = logging.getLogger("ogmux.state")
T = TypeVar("T")
STATE_COMPONENT = "server.state"
_MAX_ERROR_CHARS = 500

# One token bucket, refilled continuously at ARGV[1] tokens/s up to ARGV[2], timed by the Redis server's
# clock so replica clocks do not matter. Returns "0" when a token was taken, else the seconds to wait.
# A bucket left alone refills completely within burst/rate seconds; it expires then, since a missing
# bucket is a full one.
_TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens < 1 then
  wait = (1 - tokens) / rate
else
  tokens = tokens - 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""

# A principal's call slots: a sorted set of slot ids scored by the end of their lease (ms, Redis clock).
# Expired leases are dropped first, so a replica that stopped without releasing its slots frees them
# within one lease. ARGV: limit, lease ms, slot id. Returns -1 when the slot was taken, else the number
# of slots running.
_TAKE_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local running = redis.call('ZCARD', KEYS[1])
if running >= tonumber(ARGV[1]) then
  return running
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return -1
"""
# Extends the leases of members still held in a lease set (XX: a member released meanwhile is not brought
# back). ARGV: lease ms, members.
_RENEW_LEASES = """
local t = redis.call('TIME')
local lease = tonumber(ARGV[1])
local ends = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + lease
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', ends, ARGV[i])
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], lease)
end
return 0
"""


class StateUnavailable(RuntimeError):
    """Redis could not be used just now; the message says why and when it is tried again."""


def redact_url(url: str) -> str:
    """`url` without its password, for log lines and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


class SharedState:
    """A Redis connection pool with outage tracking; implements the router's `BreakerStore`."""

    def __init__(self, settings: StateSettings, clock: Callable[[], float] = time.monotonic):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.settings = settings
        self.where = redact_url(settings.url)
        self.fail_closed = settings.fail == "closed"
        timeout = settings.timeout_ms / 1000
        # One immediate retry on a fresh connection: pooled connections die when Redis restarts.
        self._client = redis.Redis.from_url(
            settings.url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
            client_name="ogmux",
        )
        self._bucket = self._client.register_script(_TOKEN_BUCKET)
        self._take_slot = self._client.register_script(_TAKE_SLOT)
        self._renew_leases = self._client.register_script(_RENEW_LEASES)
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._probing = False
        self._reason = ""

    @property
    def down(self) -> bool:
        """True while the current outage lasts (from the first failed call to the next good one)."""
        return self._down_since is not None

    def call(self, op: Callable[[redis.Redis], T]) -> T:
        """Run `op` against Redis, or raise StateUnavailable (at once during an outage)."""
        import redis

        if self._down_since is not None:
            self._probe_later()
            raise StateUnavailable(self._reason)
        try:
            result = op(self._client)
        except redis.RedisError as exc:
            self._failed(exc)
            raise StateUnavailable(self._reason) from None
        if self._down_since is not None:
            self._recovered()
        return result

    def _failed(self, exc: redis.RedisError) -> None:
        now = self._clock()
        with self._lock:
            self._retry_at = now + self.settings.retry_s
            cause = f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS]
            self._reason = f"shared state at {self.where} is unreachable ({cause})"
            if self._down_since is not None:
                return
            self._down_since = now
        if self.fail_closed:
            then = 'refusing rate-limited calls until it returns ([state] fail = "closed")'
        else:
            then = 'serving with this replica\'s local state until it returns ([state] fail = "open")'
        log.warning("%s; %s", self._reason, then)

    def _probe_later(self) -> None:
        """Start a background ping once the back-off has passed (one at a time)."""
        with self._lock:
            if self._probing or self._clock() < self._retry_at:
                return
            self._probing = True
        threading.Thread(target=self._probe, name="ogmux-state-probe", daemon=True).start()

    def _probe(self) -> None:
        import redis

        try:
            self._client.ping()
        except redis.RedisError as exc:
            self._failed(exc)
        else:
            self._recovered()
        finally:
            self._probing = False

    def _recovered(self) -> None:
        with self._lock:
            since, self._down_since = self._down_since, None
        if since is not None:
            log.info("shared state at %s is reachable again after %.1f s", self.where, self._clock() - since)

    def retry_in_s(self) -> float:
        """Seconds until Redis may be usable again: the back-off left, at least the time a probe takes."""
        return max(self._retry_at - self._clock(), 2 * self.settings.timeout_ms / 1000)

    def script(self, lua: str) -> redis.commands.core.Script:
        """`lua` registered as a script of this connection pool (run it inside `call`)."""
        return self._client.register_script(lua)

    def key(self, kind: str, name: str) -> str:
        """The Redis key of `name` of `kind` (under `[state].key_prefix`)."""
        return f"{self.settings.key_prefix}{kind}:{name}"

    # rate limits --------------------------------------------------------------------------------
    def take_token(self, principal: str, rate: float, burst: int) -> float:
        """Take a token from `principal`'s shared bucket: 0.0 if taken, else seconds until one is there."""
        key = self.key("ratelimit", principal)
        return float(self.call(lambda _: self._bucket(keys=[key], args=[repr(rate), burst])))

    # call slots -------------------------------------------------------------------------------
    def take_slot(self, principal: str, slot: str, limit: int, lease_ms: int) -> int:
        """Take slot id `slot` of `principal`'s shared `limit`, leased for `lease_ms`: -1 if taken, else
        how many slots are running (the limit is reached)."""
        key = self.key("calls", principal)
        return int(self.call(lambda _: self._take_slot(keys=[key], args=[limit, lease_ms, slot])))

    def renew_leases(self, key: str, members: list[str], lease_ms: int) -> None:
        """Extend the leases of `members` of lease set `key` (those still held) by `lease_ms` from now."""
        self.call(lambda _: self._renew_leases(keys=[key], args=[lease_ms, *members]))

    def release_slot(self, principal: str, slot: str) -> None:
        """Give slot `slot` back; during an outage it is freed when its lease ends."""
        key = self.key("calls", principal)
        try:
            self.call(lambda c: c.zrem(key, slot))
        except StateUnavailable:
            pass

    # breakers (router.breaker.BreakerStore) -----------------------------------------------------
    def open_breaker(self, key: str, seconds: float, error: str) -> None:
        """Mark backend replica `key` open for every ogmux replica for `seconds`."""
        ms = max(1, round(seconds * 1000))
        try:
            self.call(lambda c: c.set(self.key("breaker", key), error[:_MAX_ERROR_CHARS], px=ms))
        except StateUnavailable:
            pass  # this replica's own breaker is open anyway

    def breaker_cooldown(self, key: str) -> tuple[float, str] | None:
        """(seconds left, error) while some replica's cooldown of `key` lasts; None if none or unknown."""
        name = self.key("breaker", key)

        def read(c: redis.Redis) -> list:
            return c.pipeline(transaction=False).pttl(name).get(name).execute()

        try:
            ttl_ms, error = self.call(read)
        except StateUnavailable:
            return None
        if ttl_ms is None or ttl_ms <= 0 or error is None:
            return None
        return ttl_ms / 1000, error.decode("utf-8", "replace")

    def close(self) -> None:
        self._client.close()


class Leases:
    """Members of shared lease sets (sorted sets scored by the end of each member's lease) that this replica
    holds: a thread renews them every third of a lease, so a replica that stops (killed, crashed, cut off)
    frees them within one lease."""

    def __init__(self, shared: SharedState, lease_ms: int, name: str):
        self._shared = shared
        self.lease_ms = lease_ms
        self._name = name
        self._held: dict[str, set[str]] = {}  # lease set key -> members held here
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def add(self, key: str, member: str) -> None:
        """Renew `member` of `key` from now on (it was just taken with a lease of `lease_ms`)."""
        with self._lock:
            self._held.setdefault(key, set()).add(member)
            if self._renewer is None:
                self._renewer = threading.Thread(target=self._renew, name=self._name, daemon=True)
                self._renewer.start()

    def discard(self, key: str, member: str) -> None:
        """Stop renewing `member` of `key`."""
        with self._lock:
            held = self._held.get(key, set())
            held.discard(member)
            if not held:
                self._held.pop(key, None)

    def _renew(self) -> None:
        while not self._stop.wait(self.lease_ms / 3000):
            with self._lock:
                held = {key: sorted(members) for key, members in self._held.items()}
            for key, members in held.items():
                try:
                    self._shared.renew_leases(key, members, self.lease_ms)
                except StateUnavailable:
                    break  # tried again next round; meanwhile the leases run on

    def close(self) -> None:
        """Stop renewing (members still held then end with their lease)."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)


def shared_state(state: AppState) -> SharedState | None:
    """The server's shared state (built once), or None when `[state].url` is empty."""

    def build(settings: Settings) -> SharedState | None:
        if not settings.state.url:
            return None
        shared = SharedState(settings.state)
        state.add_closer(shared.close)
        return shared

    return state.component(STATE_COMPONENT, build)
