"""A real `ogmux serve` over stdio keeps serving after lines no JSON-RPC client sends: malformed JSON,
nesting past the parser's limit, NaN, a huge integer, an unknown method, a request without a method."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading

import pytest

from tests.integration.procs import REPO

INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "1"}}}  # fmt: skip
HOSTILE = [
    "{not json",
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"resolve_context","arguments":{"ids":["a#b"],'
    '"state":{"x":' + "[" * 100_000 + "]" * 100_000 + "}}}}",
    '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_index","arguments":{"query":"x","k":NaN}}}',
    '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"resolve_context","arguments":{"ids":["a#b"],'
    '"depth":' + "9" * 5000 + "}}}",
    '{"jsonrpc":"2.0","id":4,"method":"zq/unknown","params":{}}',
    '{"jsonrpc":"2.0","id":5}',
    "",
]


@pytest.fixture(scope="module")
def server():
    proc = subprocess.Popen([sys.executable, "-m", "ogmux", "serve"], cwd=REPO, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    proc.replies = lines  # type: ignore[attr-defined]
    try:
        _send(proc, json.dumps(INIT))
        assert _reply(proc)["id"] == 0
        _send(proc, json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        yield proc
    finally:
        proc.kill()
        proc.communicate(timeout=10)


def _reply(proc: subprocess.Popen) -> dict:
    """The server's next line, parsed; fails after 20 s rather than waiting forever."""
    return json.loads(proc.replies.get(timeout=20))  # type: ignore[attr-defined]


def _send(proc: subprocess.Popen, line: str) -> None:
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


@pytest.mark.parametrize("line", HOSTILE, ids=["malformed", "deep", "nan", "huge-int", "unknown-method", "no-method", "empty"])
def test_the_server_answers_the_next_request(server: subprocess.Popen, line: str) -> None:
    _send(server, line)
    _send(server, json.dumps({"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": {"name": "server_info", "arguments": {}}}))
    while True:  # replies to the hostile line, if any, come first; the server answers each in order
        reply = _reply(server)
        assert "Traceback" not in json.dumps(reply)
        if reply.get("id") == 99:
            break
    assert reply["result"]["structuredContent"]["principal"] == "local"
    assert server.poll() is None
