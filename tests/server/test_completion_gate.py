"""Completions (`completion/complete`) pass the same gate as tool calls, resource reads and prompts, through
the SDK's in-memory client: charged to the caller's rate limit, bounded arguments with a clear error, one
audit line each, a call slot while they run; an unknown reference and one the role may not use answer alike."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import anyio
import mcp
import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import PromptReference, ResourceTemplateReference

from ogmux.demo import SAFETY_RUNS
from ogmux.server.app import build_server
from ogmux.server.audit import MAX_LINE_BYTES
from ogmux.server.registry import ResourceSpec, discover_resources
from ogmux.server.settings import load_settings

NODE = ResourceTemplateReference(type="ref/resource", uri="og://node/{id}")
DOC = ResourceTemplateReference(type="ref/resource", uri="og://doc/{doc}{?start}")
RUN = PromptReference(type="ref/prompt", name="explain_safety_run")
ROLES = {
    "admin": {},
    "reader": {"tools": ["server_info", "search_index", "resolve_context"], "scopes": ["public"]},
    "solver": {"tools": ["solve_milp"]},
}


def _server(tmp_path: Path, role: str, resources: list[ResourceSpec] | None = None, **overrides):
    settings = load_settings(None, **{
        "roles": ROLES, "server.stdio_role": role, "eval.runs_dir": str(SAFETY_RUNS),
        "audit.sink": "file", "audit.path": str(tmp_path / "audit.jsonl"), **overrides,
    })  # fmt: skip
    return build_server(settings, transport="memory", resources=resources)


def _audit(tmp_path: Path) -> list[dict]:
    path = tmp_path / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_completions_are_charged_to_the_callers_rate_limit_with_tool_calls(tmp_path: Path) -> None:
    server = _server(tmp_path, "reader", rate_limit={"rate": 0.01, "burst": 3})
    async with mcp.Client(server) as client:
        first = await client.complete(DOC, {"name": "doc", "value": "ogmux-r"})
        await client.call_tool("server_info", {})
        await client.complete(NODE, {"name": "id", "value": "ogmux-faq#"})
        with pytest.raises(
            MCPError, match=r"rate limit exceeded for principal 'local' .*; retry after [0-9.]+ s"
        ):
            await client.complete(DOC, {"name": "doc", "value": "o"})
        with pytest.raises(
            MCPError, match="rate limit exceeded"
        ):  # the unknown reference is charged first, too
            await client.complete(PromptReference(type="ref/prompt", name="nope"), {"name": "x", "value": ""})
    await server.state.aclose()
    assert first.completion.values == ["ogmux-runbook"]
    records = _audit(tmp_path)
    assert [(r.get("completion") or r.get("tool"), r["outcome"]) for r in records] == [
        ("og://doc/{doc}{?start}", "ok"),
        ("server_info", "ok"),
        ("og://node/{id}", "ok"),
        ("og://doc/{doc}{?start}", "rate_limited"),
        ("nope", "rate_limited"),
    ]
    assert records[0]["result_bytes"] > 0 and all(
        r["principal"] == "local" and r["role"] == "reader" for r in records
    )


# role, reference, argument, value -> the values completed (empty: unknown or not the role's, which answer alike)
MATRIX = [
    ("admin", RUN, "run", "rad", ["radsafe-synthetic"]),
    ("reader", RUN, "run", "rad", []),  # safety_report not granted: as if the prompt did not exist
    ("reader", PromptReference(type="ref/prompt", name="no_such_prompt"), "run", "rad", []),
    ("admin", RUN, "focus", "", []),  # an argument without completions
    ("reader", DOC, "doc", "ogmux-f", ["ogmux-faq"]),
    ("solver", DOC, "doc", "ogmux-f", []),  # no document tool: no document resource, no completion
    ("reader", ResourceTemplateReference(type="ref/resource", uri="og://nowhere/{x}"), "x", "", []),
    (
        "reader",
        ResourceTemplateReference(type="ref/resource", uri="ogmux://tool/{name}"),
        "name",
        "search",
        ["search_index"],
    ),
    (
        "solver",
        ResourceTemplateReference(type="ref/resource", uri="ogmux://tool/{name}"),
        "name",
        "search",
        [],
    ),
]


@pytest.mark.parametrize(("role", "ref", "argument", "value", "values"), MATRIX)
async def test_completion_matrix_by_role_and_reference(
    tmp_path: Path, role: str, ref, argument: str, value: str, values: list[str]
) -> None:
    server = _server(tmp_path, role)
    async with mcp.Client(server) as client:
        result = await client.complete(ref, {"name": argument, "value": value})
    await server.state.aclose()
    assert result.completion.values == values
    [record] = _audit(tmp_path)
    label = ref.uri if isinstance(ref, ResourceTemplateReference) else ref.name
    assert record["completion"] == label and record["outcome"] == ("ok" if values else "invalid")


@pytest.mark.parametrize(
    ("argument", "context", "error"),
    [
        (
            {"name": "id", "value": "x" * 5_000_000},
            None,
            "completion: argument 'value': String should have at most 300",
        ),
        (
            {"name": "\u202e" + "n" * 100_000, "value": ""},
            None,
            "argument 'argument': String should have at most 100",
        ),
        (
            {"name": "id", "value": ""},
            {f"k{i}": "v" for i in range(17)},
            "argument 'context': Dictionary should have at most 16",
        ),
        (
            {"name": "id", "value": ""},
            {"k": "v" * 3000},
            "argument 'context.k': String should have at most 2000",
        ),
    ],
)
async def test_completion_arguments_are_bounded_with_a_clear_error(
    tmp_path: Path, argument: dict, context: dict | None, error: str
) -> None:
    server = _server(tmp_path, "admin")
    async with mcp.Client(server) as client:
        with pytest.raises(MCPError) as refused:
            await client.complete(NODE, argument, context_arguments=context)
    await server.state.aclose()
    assert error in refused.value.message and len(refused.value.message) < 400
    raw = (tmp_path / "audit.jsonl").read_bytes()
    assert raw.isascii() and len(raw) <= MAX_LINE_BYTES
    assert json.loads(raw)["outcome"] == "invalid"


async def test_a_long_unknown_reference_is_bounded_in_the_audit(tmp_path: Path) -> None:
    server = _server(tmp_path, "admin")
    odd = ResourceTemplateReference(type="ref/resource", uri="og://\u202e\n" + "z" * 1_000_000)
    async with mcp.Client(server) as client:
        assert (await client.complete(odd, {"name": "x", "value": ""})).completion.values == []
    await server.state.aclose()
    raw = (tmp_path / "audit.jsonl").read_bytes()
    assert raw.isascii() and raw.count(b"\n") == 1 and len(raw) <= MAX_LINE_BYTES
    record = json.loads(raw)
    assert record["outcome"] == "invalid" and record["completion"].startswith("og://\u202e\nzzz")
    assert "chars]" in record["completion"]


async def test_a_running_completion_holds_one_of_the_callers_call_slots(tmp_path: Path) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow(ctx, param: str, prefix: str) -> list[str]:
        entered.set()
        release.wait(10)
        return ["slow-value"]

    spec = ResourceSpec(
        "og://slow/{x}", "slow", "A slow completion.", lambda ctx, x: x, "objectgraph", complete=slow
    )
    server = _server(tmp_path, "reader", [*discover_resources(), spec], limits={"calls_per_principal": 1})
    ref = ResourceTemplateReference(type="ref/resource", uri="og://slow/{x}")
    answers: list[list[str]] = []
    async with mcp.Client(server) as client, anyio.create_task_group() as tg:

        async def complete() -> None:
            answers.append((await client.complete(ref, {"name": "x", "value": ""})).completion.values)

        tg.start_soon(complete)
        with anyio.fail_after(10):
            while not entered.is_set():
                await anyio.sleep(0.02)
        with pytest.raises(
            MCPError,
            match=r"completion: local already has 1 calls running \(limits.calls_per_principal = 1\)",
        ):
            await client.complete(DOC, {"name": "doc", "value": ""})
        refused = await client.call_tool("server_info", {})
        release.set()
    await server.state.aclose()
    assert (
        answers == [["slow-value"]]
        and refused.is_error
        and "limits.calls_per_principal = 1" in refused.content[0].text
    )
    assert sorted(r["outcome"] for r in _audit(tmp_path)) == ["busy", "busy", "ok"]
