"""The engine helpers start again on a new port when another process took the one they picked."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.integration.engines import Haproxy, PostgresServer, RedisServer
from tests.integration.procs import free_port, listens, on_free_port


@contextmanager
def _taken() -> Iterator[int]:
    """A loopback port another process listens on while the block runs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def _picks(*first: int) -> Callable[[], int]:
    """`first` ports in order, then free ones."""
    queue = list(first)
    return lambda: queue.pop(0) if queue else free_port()


def _redis(tmp_path: Path) -> RedisServer:
    return RedisServer(tmp_path / "redis")


def _haproxy(tmp_path: Path) -> Haproxy:
    return Haproxy(tmp_path, [free_port()])


@pytest.mark.parametrize("make", [_redis, _haproxy])
def test_a_taken_port_is_left_for_a_free_one(make, tmp_path: Path) -> None:
    engine = make(tmp_path)
    with _taken() as taken:
        port = on_free_port(engine._start, engine.log, pick=_picks(taken, taken))
        try:
            assert port != taken and listens(engine.proc.pid, port)
            assert engine.log.read_text().lower().count("address already in use") >= 2
        finally:
            engine.port = port
            engine.stop()


def test_postgres_leaves_a_taken_port_for_a_free_one() -> None:
    pg = PostgresServer()
    try:
        pg.init()
        with _taken() as taken:
            pg.port = on_free_port(pg._start, pg.log, pick=_picks(taken))
            assert pg.port != taken and pg.running()
            assert "address already in use" in pg.log.read_text().lower()
    finally:
        pg.cleanup()


def test_the_attempts_are_bounded_and_the_last_error_is_raised(tmp_path: Path) -> None:
    engine = _redis(tmp_path)
    with _taken() as taken, pytest.raises(RuntimeError, match=f"redis-server on port {taken} exited with 1"):
        on_free_port(engine._start, engine.log, attempts=3, pick=lambda: taken)
    assert engine.log.read_text().lower().count("address already in use") == 3


def test_a_failure_that_is_no_taken_port_is_not_retried(tmp_path: Path) -> None:
    calls: list[int] = []

    def start(port: int) -> None:
        calls.append(port)
        raise RuntimeError("bad configuration")

    with pytest.raises(RuntimeError, match="bad configuration"):
        on_free_port(start, tmp_path / "none.log")
    assert len(calls) == 1


def test_listens_tells_the_process_holding_a_port_from_another() -> None:
    with _taken() as taken:
        other = subprocess.Popen(["sleep", "60"])
        try:
            assert listens(os.getpid(), taken) and not listens(other.pid, taken)
        finally:
            other.kill()
            other.wait()
    assert not listens(os.getpid(), taken)
