"""What the server repeats back to a caller, bounded: the progress token and the data of protocol errors.

A progress token is repeated in every progress notification of a call (a streamed chat sends dozens),
so a long one would multiply the caller's bytes; a request carrying one longer than
`MAX_PROGRESS_TOKEN` is refused with a clear error before any work. The SDK's errors repeat caller
text as their data ("Method not found" the method, a failed resource read `{"uri": ...}`): each
string there is cut to `NAME_CHARS`.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from ogmux.server.audit import bounded

__all__ = ["MAX_PROGRESS_TOKEN", "BoundedEchoes"]

MAX_PROGRESS_TOKEN = 128  # characters of a string token (SDK clients send small integers)


def _bounded(data: Any) -> Any:
    """Error data with every string (alone, or a value of a dict) cut to NAME_CHARS."""
    if isinstance(data, str):
        return bounded(data)
    if isinstance(data, dict):
        return {k: bounded(v) if isinstance(v, str) else v for k, v in data.items()}
    return data


class BoundedEchoes(ServerMiddleware[Any]):
    """Server middleware: refuse an over-long progress token; cut the caller text protocol errors repeat."""

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
            data = _bounded(exc.data)
            if data != exc.data:
                raise MCPError(exc.code, exc.message, data) from None
            raise
