"""`DocumentStore`: a connection pool to the store, the current version, and clear errors when it is down.

Replicas poll the one-row `ogmux.current` table (at most every `reload_interval_s`) and start
serving a new version on the next request; a request reads the version it started with.
A version is immutable, so what is derived from it (listings, statistics) is cached under its
`Current`: the version number with the time it was pushed, so that a database emptied and pushed
to again, whose numbers restart, never meets the values cached for the old corpus.
Connections are checked before use, so after a database restart the pool reconnects by itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

__all__ = ["Current", "DocumentStore", "StoreEmptyError", "StoreUnavailableError", "unavailable"]

T = TypeVar("T")
_CURRENT = "SELECT c.version, v.pushed_at, v.all_scopes FROM ogmux.current c JOIN ogmux.versions v USING (version)"
_log = logging.getLogger("ogmux.objectgraph.store")


class StoreUnavailableError(TimeoutError):
    """The document store did not answer in time; the same call may succeed when retried."""


class StoreEmptyError(LookupError):
    """The document store holds no corpus yet."""

    def __init__(self) -> None:
        super().__init__("the document store holds no corpus yet; push one with `ogmux corpus push DIR --store DSN`")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, PoolTimeout):
        return "no database connection became free or could be opened in time"
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text.rsplit("failed: ", 1)[-1].strip() or type(exc).__name__


def unavailable(exc: BaseException) -> StoreUnavailableError:
    """The caller-facing error for a database failure (no addresses, no credentials)."""
    return StoreUnavailableError(f"document store unavailable: {_reason(exc)}; retry in a few seconds")


@dataclass(frozen=True)
class Current:
    """The version new requests read; two are equal exactly when they are the same push."""

    version: int
    pushed_at: datetime
    all_scopes: frozenset[str] = field(compare=False)  # every scope a node of the version carries


class DocumentStore:
    """A pool of connections to one PostgreSQL database holding pushed corpus versions. Thread-safe."""

    def __init__(
        self,
        conninfo: str,
        reload_interval_s: float = 1.0,
        timeout_s: float = 5.0,
        max_connections: int = 8,
    ):
        self.reload_interval_s = reload_interval_s
        self._pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=max_connections,
            open=True,
            timeout=timeout_s,
            check=ConnectionPool.check_connection,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(timeout_s))},
            name="ogmux-store",
        )
        self._lock = threading.Lock()
        self._current: Current | None = None
        self._checked = float("-inf")
        self._down = False
        self._caches: dict[str, OrderedDict[Any, Any]] = {}

    def close(self) -> None:
        """Close every connection."""
        self._pool.close()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled autocommit connection; database failures become `StoreUnavailableError`."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except (PoolTimeout, psycopg.OperationalError) as exc:
            if not self._down:
                self._down = True
                _log.warning("document store unavailable: %s", exc)
            raise unavailable(exc) from None
        except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
            self._checked = float("-inf")  # a newer push dropped the version this call was reading
            raise StoreUnavailableError("document store: the corpus was replaced during this call; retry") from None
        if self._down:
            self._down = False
            _log.warning("document store reachable again")

    def current(self) -> Current:
        """The version new requests read (re-read at most every `reload_interval_s`)."""
        now = time.monotonic()
        if self._current is not None and now - self._checked < self.reload_interval_s:
            return self._current
        with self._lock:
            if self._current is None or now - self._checked >= self.reload_interval_s:
                with self.connection() as conn:
                    try:
                        row = conn.execute(_CURRENT).fetchone()
                    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
                        row = None  # nothing was ever pushed to this database
                if row is None:
                    raise StoreEmptyError()
                self._current, self._checked = Current(int(row[0]), row[1], frozenset(row[2])), now
            return self._current

    def current_version(self) -> int:
        """The number of the version new requests read."""
        return self.current().version

    def cached(self, name: str, key: Any, build: Callable[[], T], size: int = 64) -> T:
        """A small LRU per `name` of values derived from one version (`key` must include its `Current`)."""
        with self._lock:
            cache = self._caches.setdefault(name, OrderedDict())
            if key in cache:
                cache.move_to_end(key)
                return cache[key]
        value = build()  # outside the lock: other requests go on while this one reads the database
        with self._lock:
            cache[key] = value
            while len(cache) > size:
                cache.popitem(last=False)
        return value
