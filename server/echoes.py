"""What the server repeats back to a caller, bounded: the progress token and an unknown method's name.

A progress token is repeated in every progress notification of a call (a streamed chat sends dozens),
so a long one would multiply the caller's bytes; a request carrying one longer than
`MAX_PROGRESS_TOKEN` is refused with a clear error before any work. "Method not found" carries the
method name as its data, cut to `NAME_CHARS`.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, METHOD_NOT_FOUND

from ogmux.server.audit import NAME_CHARS, bounded

__all__ = ["MAX_PROGRESS_TOKEN", "BoundedEchoes"]

MAX_PROGRESS_TOKEN = 128  # characters of a string token (SDK clients send small integers)


class BoundedEchoes(ServerMiddleware[Any]):
    """Server middleware: refuse an over-long progress token; cut the method name "Method not found" returns."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.request_id is None:  # a notification: nothing is answered, so nothing is echoed
            return await call_next(ctx)
        meta = ctx.params.get("_meta") if isinstance(ctx.params, dict) else None
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        if isinstance(token, str) and len(token) > MAX_PROGRESS_TOKEN:
            raise MCPError(
                INVALID_PARAMS,
                f"_meta.progressToken has {len(token)} characters; send one of at most {MAX_PROGRESS_TOKEN} "
                "(or a number)",
            )
        try:
            return await call_next(ctx)
        except MCPError as exc:
            if exc.code == METHOD_NOT_FOUND and isinstance(exc.data, str) and len(exc.data) > NAME_CHARS:
                raise MCPError(exc.code, exc.message, bounded(exc.data)) from None
            raise
