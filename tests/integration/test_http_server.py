"""A real `ogmux serve --http` process driven by the SDK's streamable HTTP client."""

from __future__ import annotations

from pathlib import Path

import httpx
import mcp
import pytest
from mcp.shared.exceptions import MCPError

from ogmux.server.auth import hash_token, new_token
from tests.integration.procs import authed, http_server
from tests.router.wire_server import STREAMED, wire_server
from tests.tools.solver.conftest import random_net


@pytest.fixture(scope="module")
def url():
    with http_server() as u:
        yield u


async def test_lists_and_calls_over_http(url: str) -> None:
    async with mcp.Client(url) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert "server_info" in names
        result = await client.call_tool("server_info", {})
        assert not result.is_error
        assert result.structured_content["principal"] == "anonymous"
        assert client.instructions and "server_info" in client.instructions


async def test_a_client_given_the_address_without_the_mcp_path_is_told_the_path(url: str) -> None:
    root = url.removesuffix("/mcp")
    told = pytest.RaisesExc(MCPError, match="^nothing is served at /: ogmux serves MCP at /mcp$")
    with pytest.RaisesGroup(told, flatten_subgroups=True):
        async with mcp.Client(root):
            pass
    async with httpx.AsyncClient() as http:
        page = await http.get(f"{root}/favicon.ico")
    assert page.status_code == 404 and page.json()["error"]["message"].endswith("ogmux serves MCP at /mcp")


async def test_invalid_arguments_are_a_tool_error_over_http(url: str) -> None:
    async with mcp.Client(url) as client:
        result = await client.call_tool("server_info", {"bogus": 1})
        assert result.is_error
        assert "bogus: unknown argument" in result.content[0].text


async def test_progress_notifications_reach_an_http_client(url: str) -> None:
    events: list[tuple[float, float | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        events.append((done, total))

    net = random_net([2, 16, 16, 1], seed=0).to_spec().model_dump()
    args = {"network": {"inline": net}, "bounds": {"lower": [-2, -2], "upper": [2, 2]}}
    async with mcp.Client(url) as client:
        result = await client.call_tool("optimize_surrogate", args, progress_callback=on_progress)
    assert not result.is_error, result.content
    assert result.structured_content["verified"]
    assert events, "progress sent during the solve never reached the HTTP client"


async def test_chat_streams_from_the_backend_only_for_a_caller_that_wants_progress(tmp_path) -> None:
    with wire_server() as wire:
        config = tmp_path / "ogmux.toml"
        config.write_text(
            f'[[router.backends]]\nname = "cheap"\nkind = "openai"\nmodel = "ok"\nreplicas = ["{wire}/v1"]\n'
        )
        events: list[float] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            events.append(done)

        args = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
        with http_server(config) as url:
            async with mcp.Client(url) as client:
                plain = await client.call_tool("chat", args)
                streamed = await client.call_tool("chat", args, progress_callback=on_progress)
    for result in (plain, streamed):
        assert not result.is_error, result.content
        assert result.structured_content["result"]["choices"] == ["alpha beta gamma"]
    assert STREAMED[-2:] == [False, True]
    assert events and events[-1] == 8.0


def test_host_allowlist_rejects_foreign_host(url: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"Host": "evil.example:80", "Accept": "application/json, text/event-stream"}
    r = httpx.post(url, json=body, headers=headers)
    assert (r.status_code, r.text) == (421, "Invalid Host header")  # as docs/http.md quotes it


def test_healthz_needs_no_token(url: str) -> None:
    r = httpx.get(url.removesuffix("/mcp") + "/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


async def test_port_0_serves_on_a_port_the_system_gives_and_names_it(tmp_path: Path) -> None:
    token = new_token()
    config = tmp_path / "ogmux.toml"
    config.write_text(
        '[server]\nport = 0\n[audit]\nsink = "off"\n'
        f'[[tokens]]\nprincipal = "ci"\nrole = "admin"\nhash = "{hash_token(token)}"\n',
        encoding="utf-8",
    )
    with http_server(config, port=None) as url:  # the URL is read from the start-up line
        port = httpx.URL(url).port
        assert port and url == f"http://127.0.0.1:{port}/mcp"
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
            challenge = (await http.post(url, json={})).headers["www-authenticate"]
        # The 401 challenge (and so the JWT audience) names the port served, not 0.
        assert (
            challenge
            == f'Bearer resource_metadata="http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp"'
        )
        async with mcp.Client(authed(url, token)) as client:
            result = await client.call_tool("server_info", {})
            assert not result.is_error and result.structured_content["principal"] == "ci"
