"""Glue between the solver tools and MCP: network references, inline-size limits, progress from the heavy-work pool."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ogmux.server.context import ToolContext
from ogmux.server.workpool import work_pool
from ogmux.text import plural
from ogmux.tools.solver import (
    NetworkSpec,
    ReluNetwork,
    SizeLimitError,
    SolveProgress,
    SolverConfig,
    load_network_file,
    resolve_network_path,
)

__all__ = ["NetworkRef", "load_network", "run_with_progress"]

T = TypeVar("T")


class NetworkRef(BaseModel):
    """Exactly one of a file name under the configured network directory, or an inline network."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(
        None,
        max_length=1000,
        description="file (.onnx, .json, .pt) relative to the server's solver.network_dir; absolute paths and '..' are refused",
    )
    inline: NetworkSpec | None = Field(
        None,
        description="the network as JSON: dense layers (weight rows per neuron, bias), ReLU between them",
    )


def load_network(ref: NetworkRef, config: SolverConfig) -> ReluNetwork:
    """The referenced network, checked against the configured limits."""
    if (ref.path is None) == (ref.inline is None):
        raise ValueError(
            "give exactly one of network.path (a file in the network directory) or network.inline"
        )
    if ref.path is not None:
        net = load_network_file(resolve_network_path(ref.path, config))
    else:
        size = len(ref.inline.model_dump_json().encode("utf-8"))
        if size > config.max_inline_bytes:
            raise SizeLimitError(
                f"inline network is {size} bytes, over solver.max_inline_bytes = {config.max_inline_bytes}; "
                "put the file in the network directory and pass network.path"
            )
        net = ReluNetwork.from_spec(ref.inline)
    net.check_size(config)
    return net


async def run_with_progress(
    ctx: ToolContext,
    total: float,
    work: Callable[[Callable[[SolveProgress], None]], T],
) -> T:
    """Run `work(on_progress)` in the heavy-work pool, forwarding its progress events as MCP progress.

    Cancelling the calling task interrupts the work's HiGHS runs (see `server.workpool`).
    """
    loop = asyncio.get_running_loop()

    def on_progress(p: SolveProgress) -> None:
        parts = [plural(p.nodes, "node")]
        if p.primal_bound is not None:
            parts.append(f"best {p.primal_bound:.6g}")
        if p.dual_bound is not None:
            parts.append(f"bound {p.dual_bound:.6g}")
        if p.gap is not None:
            parts.append(f"gap {p.gap:.2%}")
        asyncio.run_coroutine_threadsafe(ctx.progress(min(p.time_s, total), total, ", ".join(parts)), loop)

    return await work_pool(ctx.state).run(lambda: work(on_progress), total)
