"""`search_index` with the LLM re-rank through the router to a real vLLM CPU server: the tool's
worker thread reaches the router on the server's event loop, the model is called and charged,
and the page is re-ordered from the lexical candidates. (The tiny model has random weights, so
only the plumbing is checked, not the quality of its ordering.)"""

from __future__ import annotations

import mcp
import pytest

from ogmux.server.app import build_server
from ogmux.server.settings import load_settings
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import Corpus
from ogmux.tools.objectgraph.search import search_index

pytestmark = pytest.mark.vllm

QUERY = "rotate a bearer token"
CANDIDATES = 4  # keeps the re-rank prompt inside the tiny model's 512-token context


async def test_search_index_reranks_with_a_routed_model(vllm_pool):
    settings = load_settings(
        **{
            "router.backends": vllm_pool.router_backends(),
            "router.probe_timeout_s": 8,  # a busy CPU vLLM answers /health slowly
            "objectgraph.rerank": "llm",
            "objectgraph.rerank_candidates": CANDIDATES,
        }
    )
    lexical = search_index(Corpus(settings.objectgraph.corpus_dir(), ObjectGraphConfig()).snapshot(), QUERY, k=CANDIDATES)
    server = build_server(settings, transport="memory")
    try:
        async with mcp.Client(server) as client:
            res = await client.call_tool("search_index", {"query": QUERY, "k": 3})
            assert not res.is_error, res.content
            page = res.structured_content
            assert page["reranked"] is True, "the model call must have succeeded"
            assert "model re-ranked" in res.content[0].text
            ids = [e["id"] for e in page["entries"]]
            assert len(ids) == 3 and set(ids) <= {e.id for e in lexical.entries}
        router = server.state.component("router", lambda s: pytest.fail("the router was never built"))
        spent = router.ledger.by_role["rerank"]
        assert spent.requests == 1 and spent.completion_tokens > 0
    finally:
        await server.state.aclose()
