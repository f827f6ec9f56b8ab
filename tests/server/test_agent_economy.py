"""What an agent reads from ogmux, through the in-memory SDK client: scoped completions, one node id form,
prompts, tool profiles, result sizes and argument bounds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import mcp
import pytest
from mcp.types import PromptReference, ResourceTemplateReference

from ogmux.demo import SAFETY_RUNS
from ogmux.router.types import CandidateScore, Decision, FilterResult
from ogmux.server.app import build_server
from ogmux.server.mcp_tools.route_model import render_decision
from ogmux.server.settings import load_settings
from ogmux.tools.objectgraph.tokens import count_tokens
from tests.tools.objectgraph.documents import VAULT, demo_corpus_with

SECRET_DOC = """<!-- og:meta id=secret-plans title="Plans" version=1.0 -->

<!-- og:node id=plan type=concept scopes=admin -->
## Plan

Only admins read this.
"""
ROLES = {
    "admin": {},
    "reader": {"scopes": ["public"], "tools": ["search_index", "resolve_context", "server_info"]},
}
SEARCH_ENTRY_BUDGET = 120  # tokens per search result entry
SAFETY_SUMMARY_BUDGET = 2_500  # tokens of the default safety_report text


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_corpus_with(tmp_path_factory.mktemp("corpus"), **{"vault.og": VAULT, "secret-plans.og": SECRET_DOC})


def _server(corpus: Path, role: str = "admin", **overrides):
    settings = load_settings(None, **{
        "roles": ROLES, "server.stdio_role": role, "objectgraph.corpus": str(corpus),
        "eval.runs_dir": str(SAFETY_RUNS), "eval.bootstrap_replicates": 100, "audit.sink": "off", **overrides,
    })  # fmt: skip
    return build_server(settings, transport="memory")


async def _complete(client: mcp.Client, uri: str, name: str, value: str) -> list[str]:
    result = await client.complete(ResourceTemplateReference(type="ref/resource", uri=uri), {"name": name, "value": value})
    return result.completion.values


async def test_completions_offer_only_what_the_role_may_read(corpus: Path) -> None:
    hidden = ["vault#rotation", "secret-plans#plan"]
    unmetered = {"rate_limit": {"rate": 1000, "burst": 1000}}  # completions are charged; this test sends 130
    async with mcp.Client(_server(corpus, "admin")) as admin, mcp.Client(_server(corpus, "reader", **unmetered)) as reader:
        assert "secret-plans" in await _complete(admin, "og://doc/{doc}{?start}", "doc", "sec")
        assert set(hidden) <= set(await _complete(admin, "og://node/{id}", "id", ""))
        seen_docs = await _complete(reader, "og://doc/{doc}{?start}", "doc", "")
        assert "vault" in seen_docs and "secret-plans" not in seen_docs
        # Every prefix of every hidden id, both spellings: a hidden node or document never completes.
        for ref in hidden:
            for end in range(len(ref) + 1):
                prefix = ref[:end]
                for uri, name, value in (
                    ("og://node/{id}", "id", prefix),
                    ("og://node/{id}", "id", prefix.replace("#", "%23")),
                    ("og://doc/{doc}{?start}", "doc", prefix),
                    ("og://doc/{doc}/changelog", "doc", prefix),
                ):
                    values = await _complete(reader, uri, name, value)
                    assert not set(values) & {*hidden, "secret-plans"}, (uri, value, values)
        assert await _complete(reader, "og://node/{id}", "id", "vault#") == ["vault#howto"]


async def test_a_node_resource_reads_the_id_escaped_or_as_written(corpus: Path) -> None:
    async with mcp.Client(_server(corpus)) as c:
        for uri in ("og://node/ogmux-runbook#rotate-tokens", "og://node/ogmux-runbook%23rotate-tokens"):
            assert "ogmux-runbook#rotate-tokens" in (await c.read_resource(uri)).contents[0].text
    async with mcp.Client(_server(corpus, "reader")) as c:
        for uri in ("og://node/vault#rotation", "og://node/vault%23rotation"):
            with pytest.raises(Exception) as err:
                await c.read_resource(uri)
            assert "root key" not in str(err.value)


async def test_prompts_are_short_parameterised_and_follow_the_grants(corpus: Path) -> None:
    async with mcp.Client(_server(corpus)) as c:
        prompts = {p.name: p for p in (await c.list_prompts()).prompts}
        assert set(prompts) == {"answer_from_docs", "explain_safety_run", "call_model_within_budget"}
        assert [a.name for a in prompts["answer_from_docs"].arguments if a.required] == ["question"]
        text = (await c.get_prompt("answer_from_docs", {"question": "how do I restart?"})).messages[0].content.text
        assert "how do I restart?" in text and "search_index" in text and count_tokens(text) < 150
        run = await c.complete(PromptReference(type="ref/prompt", name="explain_safety_run"), {"name": "run", "value": "rad"})
        assert run.completion.values == ["radsafe-synthetic"]
    async with mcp.Client(_server(corpus, "reader")) as c:
        assert [p.name for p in (await c.list_prompts()).prompts] == ["answer_from_docs"]
        run = await c.complete(PromptReference(type="ref/prompt", name="explain_safety_run"), {"name": "run", "value": ""})
        assert run.completion.values == []  # the reader may not call safety_report


async def test_a_docs_profile_serves_three_tools_and_server_info_says_how_to_get_the_rest(corpus: Path) -> None:
    async with mcp.Client(_server(corpus, **{"server.tools": "docs"})) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert names == {"search_index", "resolve_context", "server_info"}
        info = await c.call_tool("server_info", {})
    other = info.structured_content["other_tools"]
    assert "solve_milp" in other and '[server].tools = "all"' in other["solve_milp"]
    assert "not offered: analyze_network, chat, list_models" in info.content[0].text
    async with mcp.Client(_server(corpus, "reader")) as c:
        info = (await c.call_tool("server_info", {})).structured_content
    assert "roles.reader.tools" in info["other_tools"]["chat"] and info["prompts"] == ["answer_from_docs"]


async def test_search_entries_and_the_safety_summary_fit_their_budgets(corpus: Path) -> None:
    async with mcp.Client(_server(corpus)) as c:
        page = await c.call_tool("search_index", {"query": "restart the server after rotating tokens", "k": 20})
        entries = re.split(r"\n(?=\d+\. )", page.content[0].text)[1:]  # what the model reads: one block per entry
        assert len(entries) == len(page.structured_content["entries"]) > 5
        for entry in entries:
            assert count_tokens(entry) <= SEARCH_ENTRY_BUDGET, entry
        summary = await c.call_tool("safety_report", {"run": "radsafe-synthetic"})
        assert count_tokens(summary.content[0].text) <= SAFETY_SUMMARY_BUDGET
        out = summary.structured_content
        assert out["cells"] == [] and out["ensembles"] == [] and out["worst_case"] is None
        worst = out["worst_questions"][0]
        assert 0 < worst["high_risk"] <= worst["wrong"] <= worst["answers"] and "exclusions:" in summary.content[0].text
        cells = await c.call_tool("safety_report", {"run": "radsafe-synthetic", "sections": ["cells"], "page": 2})
        assert len(cells.structured_content["cells"]) == 4 and "page 2 of 3; next: page=3" in cells.content[0].text
        assert "brier" in cells.content[0].text and "worst questions" not in cells.content[0].text
        past = await c.call_tool("safety_report", {"run": "radsafe-synthetic", "sections": ["cells"], "page": 9})
        assert past.is_error and "last page (3)" in past.content[0].text


async def test_bounds_live_in_the_schema_and_bad_versions_are_named(corpus: Path) -> None:
    async with mcp.Client(_server(corpus)) as c:
        too_many = await c.call_tool("search_index", {"query": "restart", "k": 500})
        assert too_many.is_error and "less than or equal to 50" in too_many.content[0].text
        banana = await c.call_tool("resolve_context", {"ids": ["ogmux-runbook#restart"], "since_version": "banana"})
        assert banana.is_error and "unknown since_version 'banana'" in banana.content[0].text
        assert "ogmux-runbook: 1.1, 1.2, 1.3" in banana.content[0].text
        bad = await c.call_tool("resolve_context", {"ids": ["ogmux-runbook#restart"], "since_version": "1.2 beta"})
        assert bad.is_error and "since_version" in bad.content[0].text
        older = await c.call_tool("resolve_context", {"ids": ["ogmux-runbook#restart"], "since_version": "1.0"})
        assert not older.is_error, older.content


async def test_full_argument_schemas_are_one_resource_read_away(corpus: Path) -> None:
    async with mcp.Client(_server(corpus)) as c:
        assert "ogmux://tool/{name}" in c.instructions
        full = json.loads((await c.read_resource("ogmux://tool/solve_milp")).contents[0].text)
        variable = full["inputSchema"]["$defs"]["Variable"]["properties"]
        assert "infinity" in variable["lower"]["description"]  # the prose tools/list leaves out
    async with mcp.Client(_server(corpus, "reader")) as c:
        assert await _complete(c, "ogmux://tool/{name}", "name", "s") == ["search_index", "server_info"]
        with pytest.raises(Exception) as err:
            await c.read_resource("ogmux://tool/solve_milp")
        assert "your tools: resolve_context, search_index, server_info" in str(err.value)


def _candidate(model: str, replica: str, score: float) -> CandidateScore:
    return CandidateScore(model=model, replica=replica, score=score, expected_quality=0.8, est_cost_usd=0.001,
                          predicted_latency_s=0.5)  # fmt: skip


def test_routing_explanations_are_one_line_per_model_unless_detail() -> None:
    replicas = [_candidate(f"m{i}", f"r{j}", 1 - i / 10 - j / 100) for i in range(8) for j in range(3)]
    d = Decision(policy="load", prompt_tokens=12, filters=[FilterResult(name="privacy", removed={"x": "hosted"})],
                 candidates=replicas, model="m0", replica="r0", reason="least loaded")  # fmt: skip
    short = render_decision(d).splitlines()
    assert short[0] == "m0 @ r0 — policy load: least loaded" and short[1] == "filtered out: privacy: x (hosted)"
    assert [line.split(":")[0] for line in short[2:-1]] == [f"- m{i}" for i in range(6)]
    assert short[-1] == "… 2 more models (detail: true lists them)"
    full = render_decision(d, detail=True).splitlines()
    assert sum(line.startswith("- ") for line in full) == 24 and "predictor score" in full[-1]
