"""What the server repeats back is bounded: an over-long progress token is refused, error data cut."""

from __future__ import annotations

import mcp
import pytest
from mcp import types
from mcp.shared.exceptions import MCPError

from ogmux.server.app import build_server
from ogmux.server.echoes import MAX_PROGRESS_TOKEN
from ogmux.server.settings import load_settings

MODEL = {"sense": "maximize", "variables": [{"name": "x", "upper": 3}], "objective": {"x": 1}}


def _server():
    return build_server(load_settings(None, **{"audit.sink": "off"}), transport="memory")


async def test_a_progress_token_longer_than_the_bound_is_refused_before_any_work() -> None:
    async with mcp.Client(_server()) as client:
        with pytest.raises(MCPError) as exc:
            await client.call_tool("solve_milp", {"model": MODEL}, meta={"progressToken": "p" * 100_000})
        assert exc.value.code == types.INVALID_PARAMS
        assert exc.value.message == f"_meta.progressToken has 100000 characters; send one of at most " \
                                    f"{MAX_PROGRESS_TOKEN} (or a number)"
        for token in ("p" * MAX_PROGRESS_TOKEN, 7):
            solved = await client.call_tool("solve_milp", {"model": MODEL}, meta={"progressToken": token})
            assert not solved.is_error


async def test_a_failed_resource_read_repeats_at_most_200_characters_of_the_uri() -> None:
    async with mcp.Client(_server()) as client:
        for uri in ("og://nothing/" + "z" * 100_000, "og://doc/" + "z" * 100_000):
            with pytest.raises(MCPError) as exc:
                await client.read_resource(uri)
            assert exc.value.code == types.INVALID_PARAMS
            assert len(exc.value.data["uri"]) <= 200 and exc.value.data["uri"].endswith(" chars]")
            assert len(exc.value.message) <= 400


async def test_method_not_found_repeats_at_most_200_characters_of_the_method() -> None:
    async with mcp.Client(_server()) as client:
        for method, shown in (("x" * 100_000, "x" * 176 + "...[+99824 chars]"), ("tools/frobnicate", "tools/frobnicate")):
            with pytest.raises(MCPError) as exc:
                await client.session.send_request(types.Request(method=method, params=None), types.EmptyResult)
            assert exc.value.code == types.METHOD_NOT_FOUND and exc.value.data == shown
