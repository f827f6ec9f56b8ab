"""Real Redis, PostgreSQL 15, haproxy and ogmux replica processes for tests, on free loopback ports.

The engines come from the Debian packages `make services` installs. Each helper starts its own
server in its own directory, can be stopped and started again on the same port and data (restart
tests), and is stopped by its context manager. PostgreSQL runs as the `postgres` user when the
tests run as root (it refuses to run as root).

A port is picked at the first start: ogmux binds one the system gives (`--port 0`); the engines, told
a number, start again on a new one when another process took theirs first (`on_free_port`).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.integration.procs import REPO, listens, ogmux_started, on_free_port, run_all

__all__ = [
    "HAPROXY",
    "PG_BIN",
    "REDIS_SERVER",
    "Haproxy",
    "OgmuxReplica",
    "PostgresServer",
    "RedisServer",
    "haproxy",
    "ogmux_replicas",
    "postgres_server",
    "redis_server",
    "wait_for",
]

REDIS_SERVER = Path("/usr/bin/redis-server")
PG_BIN = Path("/usr/lib/postgresql/15/bin")
HAPROXY = Path("/usr/sbin/haproxy")
_INSTALL_HINT = "not installed; `make services` installs Redis, PostgreSQL 15 and haproxy (Debian packages)"


def _require(binary: Path) -> None:
    if not binary.exists():
        raise RuntimeError(f"{binary} {_INSTALL_HINT}")


def wait_for(check, what: str, timeout: float = 20.0, every: float = 0.05):
    """Call `check` until it returns a truthy value (connection errors count as not yet); return that value."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except (OSError, httpx.HTTPError) as exc:  # not listening yet
            last = exc
        time.sleep(every)
    raise TimeoutError(
        f"{what} not ready after {timeout:.0f} s" + (f" (last error: {last!r})" if last else "")
    )


def _listening(proc: subprocess.Popen, port: int, what: str, log: Path) -> bool:
    """Whether `proc` listens on `port` itself; RuntimeError with the end of its log once it has exited."""
    if proc.poll() is not None:
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise RuntimeError(f"{what} exited with {proc.returncode}: {tail}")
    return listens(proc.pid, port)


def _start_on(port: int, start: Callable[[int], None], log: Path) -> int:
    """`start(port)` and return `port` (a restart keeps the port clients were given); when `port` is 0, start on a
    free port and return it."""
    if not port:
        return on_free_port(start, log)
    start(port)
    return port


def _await(proc: subprocess.Popen, ready, what: str, timeout: float) -> None:
    """`wait_for(ready)`; a process that did not get ready is stopped before the error is raised."""
    try:
        wait_for(ready, what, timeout)
    except BaseException:
        _stop(proc)
        raise


def _stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


# --- Redis ------------------------------------------------------------------------------------------
class RedisServer:
    """`redis-server` on a loopback port; with `appendonly`, its data survives stop/start."""

    def __init__(self, workdir: Path, appendonly: bool = False):
        _require(REDIS_SERVER)
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = self.dir / "redis.log"
        self.port = 0  # picked at the first start, kept by restarts
        self.appendonly = appendonly
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.port = _start_on(self.port, self._start, self.log)

    def _start(self, port: int) -> None:
        cmd = [
            str(REDIS_SERVER), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.dir),
            "--save", "", "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "always",
            "--logfile", str(self.log), "--daemonize", "no",
        ]  # fmt: skip
        proc = self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        what = f"redis-server on port {port}"
        _await(proc, lambda: _listening(proc, port, what, self.log) and self._ping(port), what, 10)

    @staticmethod
    def _ping(port: int) -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        """Shut down cleanly (SIGTERM: the append-only file is flushed)."""
        _stop(self.proc)
        self.proc = None


@contextmanager
def redis_server(workdir: Path, appendonly: bool = False) -> Iterator[RedisServer]:
    server = RedisServer(workdir, appendonly)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- PostgreSQL -------------------------------------------------------------------------------------
class PostgresServer:
    """A PostgreSQL 15 cluster of its own (initdb), trust auth on 127.0.0.1, database `ogmux`.

    Its directory is created outside pytest's (root-only) tmp tree, owned by `postgres` when running
    as root, and removed by `cleanup()`.
    """

    def __init__(self, database: str = "ogmux"):
        _require(PG_BIN / "postgres")
        self.dir = Path(tempfile.mkdtemp(prefix="ogmux-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "pg.log"
        self.port = 0  # picked at the first start, kept by restarts
        self.database = database
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *cmd: str, timeout: float = 60) -> str:
        full = (["runuser", "-u", "postgres", "--"] if self._as_postgres else []) + list(cmd)
        done = subprocess.run(
            full, capture_output=True, text=True, timeout=timeout, cwd=self.dir, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr or done.stdout}")
        return done.stdout

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")  # fmt: skip

    def start(self) -> None:
        self.port = _start_on(self.port, self._start, self.log)

    def _start(self, port: int) -> None:
        # pg_ctl -w returns once this cluster's postmaster is ready, and fails when it exits (a port in use).
        opts = f"-p {port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.log),
                  "-w", "-t", "60", "start")  # fmt: skip

    def create_database(self) -> None:
        self._run(
            str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", self.database
        )

    def stop(self) -> None:
        """Fast shutdown (committed data is kept; clients are disconnected)."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def cleanup(self) -> None:
        if self.running():
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def postgres_server(database: str = "ogmux") -> Iterator[PostgresServer]:
    server = PostgresServer(database)
    try:
        server.init()
        server.start()
        server.create_database()
        yield server
    finally:
        server.cleanup()


# --- ogmux replicas ---------------------------------------------------------------------------------
class OgmuxReplica:
    """`python -m ogmux serve --http --port N --config FILE` as a real process, log in `log`.

    The first start takes the port the system gives (`--port 0`) and reads it from the start-up line.
    """

    def __init__(self, config: Path, log: Path, env: dict[str, str] | None = None):
        self.config = config
        self.log = log
        self.env = env or {}
        self.port = 0  # picked at the first start, kept by restarts
        self.proc: subprocess.Popen | None = None

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.root}/mcp"

    def start(self, timeout: float = 120) -> None:
        serve = [sys.executable, "-m", "ogmux", "serve", "--http"]
        cmd = [*serve, "--port", str(self.port), "--config", str(self.config)]
        seen = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=REPO, env={**os.environ, **self.env}, stdout=out, stderr=out
            )
        try:
            url = ogmux_started(
                self.proc, lambda: self.log.read_bytes()[seen:].decode(errors="replace"), timeout
            )
        except BaseException:
            _stop(self.proc)
            self.proc = None
            raise
        self.port = httpx.URL(url).port

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: the replica dies without finishing anything."""
        _stop(self.proc, signal.SIGKILL)
        self.proc = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def ogmux_replicas(configs: list[Path], workdir: Path) -> Iterator[list[OgmuxReplica]]:
    """Start one replica per config file (concurrently), stop them all afterwards."""
    replicas = [OgmuxReplica(c, workdir / f"ogmux-{i}.log") for i, c in enumerate(configs)]
    try:
        run_all(r.start for r in replicas)
        yield replicas
    finally:
        for r in replicas:
            r.stop()


# --- haproxy ----------------------------------------------------------------------------------------
_HAPROXY_CFG = """\
global
    maxconn 512

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 2s
    # A request a replica could not answer (connection refused or reset, empty reply, 502/503/504)
    # goes to another replica; read-only MCP calls are safe to send again.
    retries 3
    option redispatch 1
    retry-on all-retryable-errors
    option http-buffer-request

frontend ogmux_in
    bind 127.0.0.1:{port}
    default_backend ogmux

backend ogmux
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    # Two failed checks in a row take a replica out: one slow /healthz on a busy host must not.
    default-server inter 300ms fall 2 rise 2
{servers}
"""


class Haproxy:
    """haproxy in front of `backends` (loopback ports) with /healthz checks and retries to another replica."""

    def __init__(self, workdir: Path, backends: list[int]):
        _require(HAPROXY)
        self.dir = workdir
        self.port = 0  # picked at the first start, kept by restarts
        self.servers = "\n".join(f"    server r{i} 127.0.0.1:{p} check" for i, p in enumerate(backends))
        self.config = workdir / "haproxy.cfg"
        self.log = workdir / "haproxy.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self) -> None:
        self.port = _start_on(self.port, self._start, self.log)

    def _start(self, port: int) -> None:
        self.config.write_text(_HAPROXY_CFG.format(port=port, servers=self.servers))
        check = subprocess.run(
            [str(HAPROXY), "-c", "-q", "-f", str(self.config)], capture_output=True, text=True, check=False
        )
        if check.returncode != 0:
            raise RuntimeError(f"haproxy config rejected: {check.stderr or check.stdout}")
        with self.log.open("a") as out:  # the process keeps its own copy of the descriptor
            proc = self.proc = subprocess.Popen(
                [str(HAPROXY), "-db", "-f", str(self.config)], stdout=out, stderr=out
            )
        what = f"haproxy on port {port}"
        _await(proc, lambda: _listening(proc, port, what, self.log), what, 10)

    def stop(self) -> None:
        _stop(self.proc, signal.SIGUSR1)  # soft stop: finish what is in flight
        self.proc = None


@contextmanager
def haproxy(workdir: Path, backends: list[int]) -> Iterator[Haproxy]:
    proxy = Haproxy(workdir, backends)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
