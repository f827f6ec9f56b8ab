"""A local HTTP server speaking the OpenAI Chat Completions and Anthropic Messages wire formats.

There are no API keys here, so the hosted-API paths are tested with the real `openai` and
`anthropic` SDKs against this server on 127.0.0.1. The `model` field picks a behaviour:
"ok" answers, "rate" → 429 with Retry-After: 7, "boom" → 500, "bad" → 400, "slow" sleeps 5 s,
"cut" streams one chunk then drops the connection, "experts" adds vLLM's `routed_experts`,
"garbled" answers 200 with JSON that is no chat completion, "drip" streams a chunk every 0.15 s,
"overflow" → vLLM's 400 for a prompt longer than the context,
"tool" answers with tool calls (`TOOL_CALLS`; OpenAI: two calls, no text, the streamed arguments
split over several chunks; Anthropic: a text block, then one `tool_use` block whose streamed input
comes in `input_json_delta` fragments), "toolcut" (OpenAI) streams two tool-call chunks and drops.
`STREAMED` records, per OpenAI-format request, whether it asked for a stream; `BODIES` records the
decoded body of every request in either format, `AUTH` its credential header (authorization or
x-api-key).
`dropping_server(n)` closes the connection without an answer on its first `n` requests, as a
server does with a kept-alive connection it has timed out, and answers "ok" afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import http.server
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = [
    "AUTH",
    "BODIES",
    "EXPERTS",
    "STREAMED",
    "TOOL_CALLS",
    "TOOL_TEXT",
    "QuietHandler",
    "dropping_server",
    "threaded_server",
    "wire_server",
]

EXPERTS = np.array([[[0, 3], [1, 3]], [[3, 5], [0, 1]]], dtype=np.uint8)  # (tokens, layers, top-k)
WORDS = ["alpha", " beta", " gamma"]
STREAMED: list[bool] = []
BODIES: list[dict] = []
AUTH: list[str] = []
# (id, name, arguments split as streamed); Anthropic answers with the first only, ids as given here.
TOOL_CALLS = [
    ("call_w", "get_weather", ['{"city": ', '"Par', 'is", "unit": "C"}']),
    ("call_t", "get_time", ['{"zone"', ': "Europe/Paris"}']),
]
TOOL_TEXT = "Let me look that up."  # Anthropic's text block before the tool_use block


def _npy_b64(arr: np.ndarray) -> str:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode()


async def _failure(model: str) -> Response | None:
    if model == "rate":
        return JSONResponse({"error": {"message": "slow down", "type": "rate_limit"}}, 429, headers={"retry-after": "7"})
    if model == "boom":
        return JSONResponse({"error": {"message": "engine crashed", "type": "server_error"}}, 500)
    if model == "bad":
        return JSONResponse({"error": {"message": "messages must not be empty", "type": "invalid_request_error"}}, 400)
    if model == "slow":
        await asyncio.sleep(5)
    if model == "garbled":
        return JSONResponse({"detail": "maintenance page"})
    if model == "overflow":
        message = (
            "This model's maximum context length is 2048 tokens. However, you requested 2300 tokens "
            "(2200 in the messages, 100 in the completion). Please reduce the length of the messages or completion."
        )
        return JSONResponse({"error": {"message": message, "type": "BadRequestError", "code": 400}}, 400)
    return None


def _sse(events: list[str], cut: bool, pause_s: float = 0.0) -> StreamingResponse:
    async def gen():
        for i, e in enumerate(events):
            yield e
            if cut and i == 1:
                raise RuntimeError("connection dropped mid-stream")
            await asyncio.sleep(pause_s)

    return StreamingResponse(gen(), media_type="text/event-stream")


def _openai_tool_events(base: dict, n: int) -> list[dict]:
    """Chunks of an answer made of the TOOL_CALLS: id and name first, then the argument pieces."""
    chunks = []
    for i in range(n):
        for k, (cid, name, pieces) in enumerate(TOOL_CALLS):
            head = {"index": k, "id": cid, "type": "function", "function": {"name": name, "arguments": ""}}
            calls = [head] + [{"index": k, "function": {"arguments": p}} for p in pieces]
            chunks += [{"index": i, "delta": {"tool_calls": [c]}, "finish_reason": None} for c in calls]
        chunks.append({"index": i, "delta": {}, "finish_reason": "tool_calls"})
    return [{**base, "object": "chat.completion.chunk", "choices": [c]} for c in chunks]


async def openai_chat(request: Request) -> Response:
    body = await request.json()
    STREAMED.append(bool(body.get("stream")))
    BODIES.append(body)
    AUTH.append(request.headers.get("authorization", ""))
    model = body["model"]
    if (fail := await _failure(model)) is not None:
        return fail
    n = body.get("n", 1)
    usage = {"prompt_tokens": 11, "completion_tokens": 3 * n, "total_tokens": 11 + 3 * n}
    base = {"id": "chatcmpl-1", "created": int(time.time()), "model": model}
    if model == "tool" and not body.get("stream"):
        calls = [{"id": c, "type": "function", "function": {"name": f, "arguments": "".join(p)}} for c, f, p in TOOL_CALLS]
        msg = {"role": "assistant", "content": None, "tool_calls": calls}
        choices = [{"index": i, "message": msg, "finish_reason": "tool_calls"} for i in range(n)]
        return JSONResponse({**base, "object": "chat.completion", "choices": choices, "usage": usage})
    if model in ("tool", "toolcut"):
        events = [f"data: {json.dumps(c)}\n\n" for c in _openai_tool_events(base, n)]
        events.append(f"data: {json.dumps({**base, 'object': 'chat.completion.chunk', 'choices': [], 'usage': usage})}\n\n")
        return _sse([*events, "data: [DONE]\n\n"], cut=model == "toolcut")
    if not body.get("stream"):
        choices = []
        for i in range(n):
            c = {"index": i, "message": {"role": "assistant", "content": "".join(WORDS)}, "finish_reason": "stop"}
            if model == "experts":
                c["routed_experts"] = _npy_b64(EXPERTS)
            choices.append(c)
        return JSONResponse({**base, "object": "chat.completion", "choices": choices, "usage": usage})
    events = []
    for w in WORDS:
        for i in range(n):
            chunk = {**base, "object": "chat.completion.chunk", "choices": [{"index": i, "delta": {"content": w}, "finish_reason": None}]}
            events.append(f"data: {json.dumps(chunk)}\n\n")
    for i in range(n):
        chunk = {**base, "object": "chat.completion.chunk", "choices": [{"index": i, "delta": {}, "finish_reason": "stop"}]}
        events.append(f"data: {json.dumps(chunk)}\n\n")
    events.append(f"data: {json.dumps({**base, 'object': 'chat.completion.chunk', 'choices': [], 'usage': usage})}\n\n")
    events.append("data: [DONE]\n\n")
    return _sse(events, model == "cut", 0.15 if model == "drip" else 0.0)


async def anthropic_messages(request: Request) -> Response:
    body = await request.json()
    BODIES.append(body)
    AUTH.append(request.headers.get("x-api-key") or request.headers.get("authorization", ""))
    model = body["model"]
    if (fail := await _failure(model)) is not None:
        return fail
    words = [TOOL_TEXT] if model == "tool" else WORDS
    text = "".join(words)
    cid, fn, pieces = TOOL_CALLS[0]
    stop = "tool_use" if model == "tool" else "end_turn"
    if not body.get("stream"):
        content = [{"type": "text", "text": text}]
        if model == "tool":
            content.append({"type": "tool_use", "id": cid, "name": fn, "input": json.loads("".join(pieces))})
        return JSONResponse({
            "id": "msg_1", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": 9, "output_tokens": 3},
        })  # fmt: skip

    def ev(name: str, data: dict) -> str:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

    events = [ev("message_start", {"message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 9, "output_tokens": 0}}})]  # fmt: skip
    events.append(ev("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}))
    events += [ev("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": w}}) for w in words]
    events.append(ev("content_block_stop", {"index": 0}))
    if model == "tool":
        events.append(ev("content_block_start", {"index": 1, "content_block": {"type": "tool_use", "id": cid, "name": fn, "input": {}}}))
        events += [ev("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta", "partial_json": p}}) for p in pieces]
        events.append(ev("content_block_stop", {"index": 1}))
    events.append(ev("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": 3}}))
    events.append(ev("message_stop", {}))
    return _sse(events, model == "cut")


def _app() -> Starlette:
    return Starlette(
        routes=[
            Route("/v1/chat/completions", openai_chat, methods=["POST"]),
            Route("/v1/messages", anthropic_messages, methods=["POST"]),
        ]
    )


@contextmanager
def wire_server() -> Iterator[str]:
    """Run the server in a thread; yield its root URL (OpenAI base = root + /v1, Anthropic base = root)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound here and handed over: no other process can take the port meanwhile
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(_app(), host="127.0.0.1", port=port, log_level="error", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("wire server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


def _ok_body() -> bytes:
    msg = {"role": "assistant", "content": "".join(WORDS)}
    return json.dumps({
        "id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()), "model": "ok",
        "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
    }).encode()  # fmt: skip


@contextmanager
def dropping_server(drops: int) -> Iterator[str]:
    """A server whose first `drops` requests get their connection closed unanswered; yields its root URL."""
    left = [drops]

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            if left[0] > 0:
                left[0] -= 1
                self.close_connection = True
                return
            body = _ok_body()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with threaded_server(Handler) as url:
        yield url


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """An HTTP/1.1 request handler that logs nothing."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def threaded_server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` served on a free loopback port by a thread; yields the root URL, stops on exit."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
