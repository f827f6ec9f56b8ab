"""The server core through the SDK's in-memory client: listing, validation, errors, grants, limits, audit."""

from __future__ import annotations

import json
from pathlib import Path

import mcp
import pytest
from pydantic import BaseModel, ConfigDict, Field

from ogmux.server.app import build_server
from ogmux.server.context import ToolContext
from ogmux.server.registry import ToolSpec, discover_tools
from ogmux.server.settings import load_settings


class EchoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, description="what to echo")
    times: int = Field(1, ge=1, le=3, description="how often")


class EchoOut(BaseModel):
    text: str


async def _echo(args: EchoIn, ctx: ToolContext) -> EchoOut:
    for i in range(args.times):
        await ctx.progress(i + 1, args.times, f"echo {i + 1}")
    return EchoOut(text=args.text * args.times)


def _lookup(args: EchoIn, ctx: ToolContext) -> EchoOut:
    raise LookupError(f"no entry named {args.text!r}; list entries with server_info")


def _crash(args: EchoIn, ctx: ToolContext) -> EchoOut:
    raise RuntimeError("secret internal detail")


def _spec(name: str, handler) -> ToolSpec:
    return ToolSpec(name=name, title=name, description=f"{name} for tests", input_model=EchoIn,
                    output_model=EchoOut, handler=handler, capability="core", render=lambda r: r.text)


TEST_TOOLS = [_spec("echo", _echo), _spec("lookup", _lookup), _spec("crash", _crash)]


def _server(tmp_path: Path, role: str = "admin", tools=None, **overrides):
    settings = load_settings(None, **{
        "roles": {"admin": {"tools": ["*"]}, "limited": {"tools": ["echo", "server_info"], "scopes": ["public"]}},
        "server.stdio_role": role,
        "audit.sink": "file",
        "audit.path": str(tmp_path / "audit.jsonl"),
        **overrides,
    })
    return build_server(settings, transport="memory", tools=TEST_TOOLS if tools is None else tools, resources=[])


async def test_structured_output_and_text_rendering(tmp_path: Path) -> None:
    async with mcp.Client(_server(tmp_path)) as client:
        result = await client.call_tool("echo", {"text": "ab", "times": 2})
    assert not result.is_error
    assert result.structured_content == {"text": "abab"}
    assert result.content[0].text == "abab"


async def test_tool_definitions_carry_schemas_and_annotations(tmp_path: Path) -> None:
    async with mcp.Client(_server(tmp_path)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    echo = tools["echo"]
    assert echo.input_schema["properties"]["times"]["maximum"] == 3
    assert echo.output_schema["properties"]["text"]["type"] == "string"
    assert echo.annotations.read_only_hint is True and echo.annotations.idempotent_hint is True
    assert echo.annotations.open_world_hint is False


async def test_invalid_arguments_name_the_field_and_how_to_fix(tmp_path: Path) -> None:
    async with mcp.Client(_server(tmp_path)) as client:
        r = await client.call_tool("echo", {"text": "", "times": 9, "colour": "red"})
    assert r.is_error
    text = r.content[0].text
    assert "invalid arguments for tool 'echo'" in text
    assert "text: String should have at least 1 character (what to echo)" in text
    assert "times: Input should be less than or equal to 3 (how often)" in text
    assert "colour: unknown argument; accepted: text, times" in text


async def test_missing_required_argument(tmp_path: Path) -> None:
    async with mcp.Client(_server(tmp_path)) as client:
        r = await client.call_tool("echo", {})
    assert r.is_error and "text: required argument is missing" in r.content[0].text


async def test_domain_errors_reach_the_caller_internal_errors_do_not(tmp_path: Path) -> None:
    async with mcp.Client(_server(tmp_path)) as client:
        lookup = await client.call_tool("lookup", {"text": "x"})
        crash = await client.call_tool("crash", {"text": "x"})
    assert lookup.is_error and "no entry named 'x'; list entries with server_info" in lookup.content[0].text
    assert crash.is_error and "internal error" in crash.content[0].text
    assert "secret internal detail" not in crash.content[0].text


async def test_unknown_tool_lists_what_is_available(tmp_path: Path) -> None:
    async with mcp.Client(_server(tmp_path, role="limited")) as client:
        r = await client.call_tool("nope", {})
    assert r.is_error and "unknown tool 'nope'; tools available to you: echo" in r.content[0].text


async def test_role_sees_and_calls_only_granted_tools(tmp_path: Path) -> None:
    async with mcp.Client(_server(tmp_path, role="limited")) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        denied = await client.call_tool("lookup", {"text": "x"})
    assert names == {"echo"}
    assert denied.is_error
    assert "permission denied (403): role 'limited' is not granted tool 'lookup'" in denied.content[0].text
    assert "roles.limited.tools" in denied.content[0].text


async def test_rate_limit_says_when_to_retry(tmp_path: Path) -> None:
    server = _server(tmp_path, rate_limit={"rate": 0.5, "burst": 2})
    async with mcp.Client(server) as client:
        results = [await client.call_tool("echo", {"text": "x"}) for _ in range(3)]
    assert [r.is_error for r in results] == [False, False, True]
    msg = results[2].content[0].text
    assert "rate limit exceeded for principal 'local'" in msg and "retry after" in msg


async def test_progress_notifications_reach_the_client(tmp_path: Path) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with mcp.Client(_server(tmp_path)) as client:
        await client.call_tool("echo", {"text": "x", "times": 3}, progress_callback=on_progress)
    assert [p for p, _, _ in seen] == [1, 2, 3]
    assert seen[-1][2] == "echo 3"


async def test_audit_one_line_per_call_without_arguments(tmp_path: Path) -> None:
    server = _server(tmp_path, role="limited")
    async with mcp.Client(server) as client:
        await client.call_tool("echo", {"text": "top-secret-argument"})
        await client.call_tool("lookup", {"text": "x"})
        await client.call_tool("echo", {"text": ""})
    await server.state.aclose()
    raw = (tmp_path / "audit.jsonl").read_text()
    assert "top-secret-argument" not in raw
    lines = [json.loads(line) for line in raw.splitlines()]
    assert [(rec["tool"], rec["outcome"]) for rec in lines] == [("echo", "ok"), ("lookup", "denied"), ("echo", "invalid")]
    for rec in lines:
        assert rec["principal"] == "local" and rec["role"] == "limited"
        assert len(rec["args_hmac"]) == 64 and rec["latency_ms"] >= 0 and rec["result_bytes"] > 0
        assert set(rec) == {"time", "principal", "role", "tool", "args_hmac", "outcome", "result_bytes", "latency_ms"}


async def test_server_info_reports_role_and_grants(tmp_path: Path) -> None:
    info_spec = next(s for s in discover_tools() if s.name == "server_info")
    async with mcp.Client(_server(tmp_path, role="limited", tools=[*TEST_TOOLS, info_spec])) as client:
        info = (await client.call_tool("server_info", {})).structured_content
    assert info["role"] == "limited" and info["document_scopes"] == ["public"]
    assert info["granted_tools"] == ["echo", "server_info"]
    assert info["capabilities"] == ["core"] and info["version"]


async def test_instructions_describe_enabled_capabilities(tmp_path: Path) -> None:
    async with mcp.Client(_server(tmp_path)) as client:
        assert "server_info" in client.instructions


def test_unknown_transport_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown transport"):
        build_server(load_settings(None), transport="carrier-pigeon")
