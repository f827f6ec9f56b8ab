"""Cancel an HTTP request's work when its client disconnects before the response.

With SSE responses the transport notices a closed connection itself. With one JSON body per
request (`server.json_response`), nothing reads the connection until the answer is ready, so a
client that gives up would leave its solve running to the time limit. This ASGI wrapper watches
the connection once the request body is read and cancels the request's task on disconnect,
which interrupts its heavy work (see `server.workpool`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

__all__ = ["cancel_on_disconnect"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


def cancel_on_disconnect(app: Asgi) -> Asgi:
    """`app`, with each HTTP request cancelled when its client disconnects before the response is sent."""

    async def wrapped(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        body_read = anyio.Event()
        responded = False

        async def tracked_receive() -> Message:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_read.set()
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal responded
            if message["type"] == "http.response.start":
                responded = True
            await send(message)

        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                await body_read.wait()
                message = await receive()  # after the body, the server only ever says http.disconnect
                if message["type"] == "http.disconnect" and not responded:
                    tg.cancel_scope.cancel()

            tg.start_soon(watch)
            await app(scope, tracked_receive, tracked_send)
            tg.cancel_scope.cancel()

    return wrapped
