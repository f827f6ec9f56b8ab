"""Agent economy → benchmarks/results/economy.json: the tokens an agent spends on ogmux.

1. Tool surface: each tool's model-visible tokens (name + description + inputSchema, cl100k) and whole
   definition, as `tools/list` reaches an in-memory MCP SDK client (admin role, default configuration);
   the whole list; the server instructions; the same per `[server].tools` profile.
2. Per og-dev question (../shared/data/og-dev), a scripted agent over MCP against a server serving the
   og-dev documents: the tool list once (and the instructions), search_index(question, k=3), then
   resolve_context(those ids, level full) — every call's arguments and text result counted, as in
   Protocol P1 of bench_objectgraph.py. Against pasting the whole source document and against
   chunk-RAG (512-token chunks, BM25 top-3). "Answered" = every evidence sentence is in the context.
   Also a 5-question session, where the tool list is paid once.
3. The result of every tool on the bundled examples (tests/server/tool_examples.py; router tools on the
   local wire-format test server): text and structured-content tokens.

Usage: python benchmarks/bench_economy.py [--data DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_objectgraph import _questions, _recall, _sources, chunk_rag

from ogmux.server.app import build_server
from ogmux.server.registry import PROFILES
from ogmux.server.schemas import tool_costs
from ogmux.server.settings import Settings, load_settings
from ogmux.tools.objectgraph.tokens import count_tokens
from tests.router.wire_server import wire_server
from tests.server.tool_examples import EXAMPLES, example_settings

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "og-dev"
OUT = ROOT / "benchmarks" / "results" / "economy.json"
SESSION_QUESTIONS = 5
# Measured with the same client and tokenizer on the tool surface before the compaction (commit 3e833ae).
BEFORE = {
    "model_visible": {"optimize_surrogate": 1332, "chat": 1088, "solve_milp": 946, "route_model": 921,
                      "analyze_network": 904, "resolve_context": 500, "score_safety": 492, "safety_report": 314,
                      "search_index": 224, "list_models": 80, "server_info": 61},
    "model_visible_total": 6862,
    "tools_list_total": 16958,
    "safety_report_default": {"text": 1051, "structured": 21499},
}  # fmt: skip


def _json_tokens(value: Any) -> int:
    return count_tokens(json.dumps(value, separators=(",", ":")))


async def _surface(settings: Settings) -> dict:
    server = build_server(settings, transport="memory")
    async with mcp.Client(server) as client:
        listed = (await client.list_tools()).model_dump(mode="json", by_alias=True, exclude_none=True)["tools"]
        instructions = client.instructions or ""
    await server.state.aclose()
    costs = tool_costs(listed)
    return {
        "tools": {c.name: {"model_visible": c.model_visible, "definition": c.definition} for c in costs},
        "model_visible_total": sum(c.model_visible for c in costs),
        "tools_list_total": _json_tokens({"tools": listed}),
        "instructions": count_tokens(instructions),
    }


def surface() -> dict:
    base = {"audit.sink": "off"}
    out = anyio.run(_surface, load_settings(None, **base))
    out["profiles"] = {}
    for name in PROFILES:
        p = anyio.run(_surface, load_settings(None, **base, **{"server.tools": name}))
        out["profiles"][name] = {k: p[k] for k in ("model_visible_total", "tools_list_total")} | {"tools": len(p["tools"])}
    return out


async def _sessions(data: Path, questions: list[dict], list_tokens: dict[str, int]) -> list[dict]:
    settings = load_settings(None, **{"objectgraph.corpus": str(data / "docs"), "objectgraph.reload": False,
                                      "audit.sink": "off", "rate_limit": {"rate": 1e6, "burst": 1_000_000}})  # fmt: skip
    server = build_server(settings, transport="memory")
    rows = []
    async with mcp.Client(server) as client:
        for q in questions:
            search_args = {"query": q["question"], "k": 3}
            page = await client.call_tool("search_index", search_args)
            if page.is_error:
                raise RuntimeError(page.content[0].text)
            ids = [e["id"] for e in page.structured_content["entries"]]
            resolve_args = {"ids": ids, "level": "full"}
            res = await client.call_tool("resolve_context", resolve_args)
            calls = (_json_tokens(search_args) + count_tokens(page.content[0].text)
                     + _json_tokens(resolve_args) + count_tokens(res.content[0].text))  # fmt: skip
            rows.append({"id": q["id"], "doc": q["doc"], "calls": calls, "recall": _recall(q["evidence"], res.content[0].text),
                         **{f"with_list_{k}": calls + v for k, v in list_tokens.items()}})  # fmt: skip
    await server.state.aclose()
    return rows


def per_question(data: Path, surface_all: dict) -> dict:
    """Tokens per og-dev question: ogmux session, whole document, chunk-RAG."""
    questions = _questions(data)
    docs = _sources(data / "docs")
    docs_profile = surface_all["profiles"]["docs"]["model_visible_total"]
    list_tokens = {
        "all": surface_all["model_visible_total"] + surface_all["instructions"],
        "docs": docs_profile + surface_all["instructions"],
    }
    rows = anyio.run(_sessions, data, questions, list_tokens)
    doc_tokens = [count_tokens(docs[q["doc"]]) for q in questions]
    rag = chunk_rag(docs, questions)
    answered = [r for r in rows if r["recall"] == 1.0]

    def mean(key: str) -> float:
        return round(statistics.mean(r[key] for r in rows), 1)

    session_all = list_tokens["all"] / SESSION_QUESTIONS + mean("calls")
    return {
        "questions": len(rows),
        "answered_ogmux": len(answered),
        "evidence_recall_ogmux": round(statistics.mean(r["recall"] for r in rows), 4),
        "ogmux_calls_only": mean("calls"),
        "ogmux_one_question_all_tools": mean("with_list_all"),
        "ogmux_one_question_docs_profile": mean("with_list_docs"),
        f"ogmux_per_question_in_{SESSION_QUESTIONS}_question_session_all_tools": round(session_all, 1),
        "ogmux_per_answered_question_all_tools": round(sum(r["with_list_all"] for r in rows) / max(len(answered), 1), 1),
        "whole_document": round(statistics.mean(doc_tokens), 1),
        "chunk_rag": rag,
        "ogmux_one_question_before_compaction": round(mean("calls") + BEFORE["model_visible_total"], 1),
    }


async def _results(wire: str) -> list[dict]:
    server = build_server(example_settings(wire), transport="memory")
    rows = []
    async with mcp.Client(server) as client:
        for tool, args in EXAMPLES:
            r = await client.call_tool(tool, args)
            rows.append({"tool": tool, "arguments": _json_tokens(args), "text": count_tokens(r.content[0].text),
                         "structured": _json_tokens(r.structured_content or {}), "error": r.is_error})  # fmt: skip
    await server.state.aclose()
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="og-dev directory (docs/ + questions.jsonl)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    result: dict = {
        "benchmark": "economy",
        "machine": {"python": platform.python_version()},
        "tokenizer": "cl100k_base (tiktoken, offline data)",
        "before": BEFORE,
        "surface": surface(),
    }
    if (args.data / "questions.jsonl").is_file():
        result["per_question"] = per_question(args.data, result["surface"])
    else:
        result["per_question"] = {"skipped": f"og-dev data not found at {args.data} (../shared/data/og-dev); pass --data DIR"}
        print(result["per_question"]["skipped"], file=sys.stderr)
    with wire_server() as url:
        result["results"] = anyio.run(_results, url)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    s = result["surface"]
    print(json.dumps({k: s[k] for k in ("model_visible_total", "tools_list_total", "instructions")}))
    print(json.dumps(result["per_question"], indent=2))
    for row in result["results"]:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
