"""The stateless HTTP endpoint answers a GET with 405: it has no stream to offer.

A stateless server never sends a message outside the response to a POST, so the SDK's GET stream
stayed open and silent for good: each one held a connection, a descriptor and about 80 KB, outside
any rate limit (1,000 of them from one token: 1,000 descriptors, 81 MB). The transport spec allows
405 here, and clients then simply do without the stream.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["refuse_get_streams"]

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Asgi = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

_MESSAGE = "Method Not Allowed: this server is stateless and sends nothing on a GET stream; POST each request"
_BODY = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": _MESSAGE}}).encode()


def refuse_get_streams(app: Asgi, path: str) -> Asgi:
    """`app`, with a GET on the MCP endpoint `path` answered 405 (Allow: POST) at once."""

    async def wrapped(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == path:
            headers = [(b"content-type", b"application/json"), (b"allow", b"POST"),
                       (b"content-length", str(len(_BODY)).encode())]  # fmt: skip
            await send({"type": "http.response.start", "status": 405, "headers": headers})
            await send({"type": "http.response.body", "body": _BODY})
            return
        await app(scope, receive, send)

    return wrapped
