"""A real `ogmux serve --http` process: a client that disconnects stops its solve; start-up failures
(port taken, unauthenticated non-loopback bind) are one line and a non-zero exit."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import httpx
import mcp

from tests.integration.procs import REPO, http_server
from tests.tools.solver.conftest import market_split

MODEL = market_split(3, m=6, n=60).model_dump(mode="json")  # runs to any time limit given
HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}


def _solve_request(seconds: float) -> dict:
    arguments = {"model": MODEL, "limits": {"time_limit_s": seconds}}
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "solve_milp", "arguments": arguments}}


def _heavy(url: str) -> dict:
    return httpx.get(url.rsplit("/", 1)[0] + "/healthz", timeout=5).json()["heavy"]


# A solve whose client left stops within a second; a third of its 60 s time limit tells "stopped because the
# client left" from "ran to its limit" with room for a loaded machine.
STOPPED_WITHIN_S = 20


def _wait_until_stopped(url: str, within_s: float) -> None:
    """Return once the server runs no heavy call; fail after `within_s`."""
    start = time.monotonic()
    while _heavy(url)["running"]:
        assert time.monotonic() - start < within_s, "the solve kept running after its client left"
        time.sleep(0.1)


def _wait_until_running(url: str) -> None:
    deadline = time.monotonic() + 20
    while not _heavy(url)["running"]:
        assert time.monotonic() < deadline, "the solve never started"
        time.sleep(0.05)


async def test_disconnected_sse_client_stops_its_solve() -> None:
    """Finding 6: a client gone 2 s into a long solve_milp left the server busy until the time limit."""
    with http_server() as url:
        with httpx.Client(timeout=60) as client:
            with client.stream("POST", url, json=_solve_request(60), headers=HEADERS) as response:
                assert response.status_code == 200
                _wait_until_running(url)
            # The stream is closed: the client has gone. The time limit was 60 s.
            _wait_until_stopped(url, within_s=STOPPED_WITHIN_S)
        async with mcp.Client(url) as client:
            assert not (await client.call_tool("server_info", {})).is_error
        heavy = _heavy(url)
    assert heavy["running"] == 0 and heavy["waiting"] == 0 and heavy["workers"] >= 1


def test_disconnected_json_client_stops_its_solve(tmp_path) -> None:
    config = tmp_path / "ogmux.toml"
    config.write_text("[server]\njson_response = true\n")
    with http_server(config) as url:
        parts = urlsplit(url)
        body = json.dumps(_solve_request(60)).encode()
        head = (f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items()) + "\r\n")
        with socket.create_connection((parts.hostname, parts.port)) as client:
            client.sendall(head.encode() + body)
            _wait_until_running(url)
        # The connection is closed while the solve runs: the client has gone. The time limit was 60 s.
        _wait_until_stopped(url, within_s=STOPPED_WITHIN_S)
        quick = httpx.post(url, json=_solve_request(0.5), headers=HEADERS, timeout=30).json()
    assert "status: time_limit" in quick["result"]["content"][0]["text"]


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "ogmux", "serve", "--http", *args]
    return subprocess.run(cmd, check=False, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_port_in_use_is_one_line_and_nonzero_exit() -> None:
    """A taken port: no "serving" line before the bind fails, one line saying why, non-zero exit."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = _serve("--port", str(taken.getsockname()[1]))
    assert done.returncode != 0
    assert "serving MCP" not in done.stderr and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "cannot listen on 127.0.0.1:" in line and "in use" in line


def test_unauthenticated_non_loopback_bind_is_one_line_exit_2() -> None:
    """Finding 13: the refusal printed a traceback."""
    done = _serve("--host", "0.0.0.0", "--port", "0")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "serving MCP" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "refusing to serve HTTP on '0.0.0.0' without authentication" in line
