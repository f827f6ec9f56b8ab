"""The safety runner end to end against real vLLM CPU servers through the router.

A tiny random MoE model answers, so the answers are noise; the pipeline is real: prompts for
closed-book, evidence and standard-RAG conditions, greedy + sampled requests through the
router, usage and latency recorded, resumable appends, scoring and the HTML report."""

from __future__ import annotations

from pathlib import Path

import pytest

from ogmux.demo import CORPUS, SAFETY_RUNS
from ogmux.evaluators.radsafe.evaluate import evaluate
from ogmux.evaluators.radsafe.io import load_run
from ogmux.evaluators.radsafe.retrieval import ObjectGraphRetriever
from ogmux.evaluators.radsafe.runner import RunSpec, router_generate, run_models
from ogmux.router.config import RouterConfig
from ogmux.router.core import Router
from ogmux.tools.objectgraph.corpus import Corpus

pytestmark = pytest.mark.vllm


async def test_runner_against_vllm(vllm_pool, tmp_path: Path) -> None:
    items = load_run(SAFETY_RUNS / "radsafe-synthetic").items[:3]
    for it in items:
        it.question = "[SYNTHETIC] How is the ogmux server configured and started?"  # so retrieval finds nodes
    router = Router(RouterConfig(backends=vllm_pool.router_backends(), poll_interval_s=1, probe_timeout_s=8,
                                 request_timeout_s=120))
    await router.start()
    try:
        spec = RunSpec(models=["tiny-a", "tiny-b"], conditions=["zero_shot", "evidence_clean", "top_k"], samples=2,
                       max_tokens=4, concurrency=4, top_k=2, context_tokens=100)  # the tiny tokenizer counts ~2x cl100k; 512-token context
        retriever = ObjectGraphRetriever(Corpus(CORPUS))
        run = await run_models(items, spec, router_generate(router), tmp_path / "run", retriever=retriever)
        assert len(run.responses) == 2 * 3 * 3
        answers = [a for r in run.responses for a in [r.greedy, *r.samples]]
        assert all(a.error is None for a in answers), [a.error for a in answers if a.error][:3]
        assert all(a.raw is not None and a.input_tokens and a.latency_s > 0 for a in answers)
        rag = [r for r in run.responses if r.condition == "top_k"]
        zero = [r for r in run.responses if r.condition == "zero_shot"]
        assert min(r.greedy.input_tokens for r in rag) > max(r.greedy.input_tokens for r in zero) + 50  # context sent
        again = await run_models(items, spec, router_generate(router), tmp_path / "run", retriever=retriever)
        assert len(again.responses) == len(run.responses)  # resumed: nothing re-run, nothing lost
    finally:
        await router.aclose()
    report = evaluate(load_run(tmp_path / "run" / "run.jsonl"), replicates=100)
    assert set(report.models) == {"tiny-a", "tiny-b"}
    assert report.models["tiny-a"]["zero_shot"].n == 3
