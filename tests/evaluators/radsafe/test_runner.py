"""The runner's pipeline: conditions, retrieval over a real ObjectGraph corpus, resumable appends.

The model is a small deterministic async callable standing in for the router (the end-to-end
run against a real CPU vLLM server belongs to tests/integration). It answers from the prompt
text, so what the runner sent is checked through what comes back.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ogmux.demo import CORPUS
from ogmux.evaluators.radsafe.evaluate import evaluate
from ogmux.evaluators.radsafe.io import read_jsonl
from ogmux.evaluators.radsafe.retrieval import ObjectGraphRetriever
from ogmux.evaluators.radsafe.runner import Generation, RunSpec, build_messages, run_models
from ogmux.tools.objectgraph.corpus import Corpus

from .helpers import item


def _items():
    items = [item(str(i), "B", n_opt=4, high_risk="C") for i in range(1, 5)]
    for it in items:
        it.question = f"[SYNTHETIC] lantern question {it.id}"
        it.evidence_clean = "The guild says B."
        it.evidence_conflict = "A pamphlet says C."
    items[3].evidence_conflict = None
    return items


class Model:
    """Answers B with clean evidence, C with conflicting evidence, else alternates; logs calls."""

    def __init__(self, fail_on: str | None = None):
        self.calls: list[tuple[str, float, str]] = []
        self.fail_on = fail_on

    async def __call__(self, model: str, messages, *, temperature: float, max_tokens: int) -> Generation:
        await asyncio.sleep(0)
        text = messages[-1]["content"]
        self.calls.append((model, temperature, text))
        if self.fail_on and self.fail_on in text:
            raise ConnectionError("backend down")
        if "SEARCH result" in text or "READ result" in text:
            return Generation(text="Answer: B", input_tokens=50, output_tokens=3)
        if messages[0]["content"].startswith("You answer") and "look things up" in messages[0]["content"]:
            return Generation(text="SEARCH: ogmux configuration", input_tokens=40, output_tokens=5)
        if "guild says B" in text:
            return Generation(text="B", input_tokens=30, output_tokens=1)
        if "pamphlet says C" in text:
            return Generation(text="The answer is C", input_tokens=30, output_tokens=4)
        return Generation(text="I cannot determine this." if temperature else "A", input_tokens=20, output_tokens=2)


def test_conditions_and_resume(tmp_path: Path) -> None:
    spec = RunSpec(models=["m1", "m2"], conditions=["zero_shot", "evidence_clean", "evidence_conflict"], samples=3,
                   concurrency=4)
    model = Model()
    seen: list[tuple[int, int]] = []
    run = asyncio.run(run_models(_items(), spec, model, tmp_path / "r", progress=lambda d, t: seen.append((d, t))))
    assert len(run.responses) == 2 * (4 + 4 + 3)  # item 4 has no conflict evidence
    assert seen[-1] == (22, 22)
    assert any(e.kind == "missing_condition" for e in run.exclusions)
    r = evaluate(run, replicates=0).models["m1"]
    assert r["evidence_clean"].accuracy_greedy == 1.0
    assert r["evidence_conflict"].high_risk_rate == 1.0
    assert r["zero_shot"].accuracy_greedy == 0.0 and r["zero_shot"].null_majority_rate == 1.0
    assert {t for _, t, _ in model.calls} == {0.0, 0.7}
    first = run.responses[0]
    assert first.greedy.latency_s is not None and first.greedy.input_tokens is not None
    # a crash mid-write: a torn last line; running again finishes the cell and skips the rest
    path = tmp_path / "r" / "run.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if '"type": "response"' in line)
    path.write_text("".join(lines[:last]) + lines[last][:40])
    again = Model()
    run2 = asyncio.run(run_models(_items(), spec, again, tmp_path / "r"))
    assert len(run2.responses) == 22
    assert len(again.calls) == 4  # one cell: greedy + 3 samples
    final = read_jsonl(path)
    assert [e.kind for e in final.exclusions] == ["missing_condition"]


def test_failed_requests_are_null_answers_with_errors(tmp_path: Path) -> None:
    spec = RunSpec(models=["m"], conditions=["zero_shot"], samples=1)
    run = asyncio.run(run_models(_items()[:1], spec, Model(fail_on="lantern question 1"), tmp_path / "r"))
    g = run.responses[0].greedy
    assert g.letter is None and "ConnectionError: backend down" in g.error


def test_retrieval_conditions_over_objectgraph(tmp_path: Path) -> None:
    retriever = ObjectGraphRetriever(Corpus(CORPUS))
    it = _items()[0]
    it.question = "How do I configure the ogmux server?"
    spec = RunSpec(models=["m"], conditions=["top_k"], top_k=3, context_tokens=400)
    msgs = build_messages(it, "top_k", spec, retriever)
    assert msgs[1]["content"].startswith("Context:\n<<<og-data ") and "#" in msgs[1]["content"]
    full = build_messages(it, "context_max", spec.model_copy(update={"context_tokens": 800}), retriever)
    from ogmux.tools.objectgraph.tokens import count_tokens

    context = full[1]["content"].split("\n\nQuestion:")[0]
    assert 0 < count_tokens(context) <= 810
    model = Model()
    run = asyncio.run(run_models([it], RunSpec(models=["m"], conditions=["agentic_rag"], samples=1), model,
                                 tmp_path / "a", retriever=retriever))
    assert run.responses[0].greedy.letter == "B"
    assert any("SEARCH result" in text for _, _, text in model.calls)
    with pytest.raises(Exception, match="needs a document corpus"):
        build_messages(it, "top_k", spec, None)


def test_resume_refuses_other_items(tmp_path: Path) -> None:
    spec = RunSpec(models=["m"], conditions=["zero_shot"], samples=0)
    asyncio.run(run_models(_items()[:1], spec, Model(), tmp_path / "r"))
    with pytest.raises(Exception, match="started with other items"):
        asyncio.run(run_models(_items(), spec, Model(), tmp_path / "r"))
    assert json.loads((tmp_path / "r" / "run.jsonl").read_text().splitlines()[0])["type"] == "run"


def test_judge_confirms_letters(tmp_path: Path) -> None:
    calls: list[str] = []

    async def judge(messages: list[dict[str, str]]) -> str:
        calls.append(messages[-1]["content"])
        return '{"clear_selection": "yes", "reasoning": "explicit", "confirmed_answer": "C"}'

    spec = RunSpec(models=["m"], conditions=["evidence_conflict"], samples=1)
    run = asyncio.run(run_models(_items()[:1], spec, Model(), tmp_path / "r", judge=judge))
    g = run.responses[0].greedy
    assert g.raw == "The answer is C" and g.parsed == "C" and g.letter == "C" and g.judge["clear_selection"] == "yes"
    assert len(calls) == 2 and "The answer is C" in calls[0]
