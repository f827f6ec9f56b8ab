"""Run models on labelled items under deployment conditions; append results as they arrive.

Conditions (keys as in the RadSaFE release):

    zero_shot          closed-book: question and options only
    evidence_clean     the item's clean evidence as context
    evidence_conflict  the item's conflicting evidence as context
    top_k              standard RAG: the top-k retrieved passages as context
    agentic_rag        the model searches and reads itself in a bounded text tool loop
    context_max        as much of the corpus as fits the model's context budget

Each (model, condition, item) cell gets one greedy answer (temperature 0) and N samples.
A cell is appended to `<out>/run.jsonl` (and flushed) as soon as all its answers are in, so
a crash or Ctrl-C loses only cells in flight; running again skips finished cells.
The model is reached through an injected async `Generate` callable (the router adapter is
`router_generate`), retrieval through a `Retriever` (see `retrieval.py`).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ogmux.evaluators.radsafe.errors import RadsafeError
from ogmux.evaluators.radsafe.io import append_jsonl, read_jsonl
from ogmux.evaluators.radsafe.model import Answer, Exclusion, Item, Response, Run
from ogmux.evaluators.radsafe.parsing import Complete, judge_answer, parse_answer

__all__ = [
    "CONDITIONS",
    "Generate",
    "Generation",
    "Retriever",
    "RunSpec",
    "build_messages",
    "router_generate",
    "router_judge",
    "run_models",
]

Condition = Literal["zero_shot", "evidence_clean", "evidence_conflict", "top_k", "agentic_rag", "context_max"]
CONDITIONS: tuple[str, ...] = ("zero_shot", "evidence_clean", "evidence_conflict", "top_k", "agentic_rag", "context_max")

SYSTEM = (
    "You answer multiple-choice questions. Reply with the letter of the single best option. "
    "If you cannot decide, say so instead of guessing."
)
AGENT_SYSTEM = (
    SYSTEM + " You may look things up first: reply with exactly one line `SEARCH: <query>` to search the "
    "document index, or `READ: <id>` to read a node by id. When you are ready, reply with `Answer: <letter>`."
)


class Generation(BaseModel):
    """One model reply with its usage (None when the backend did not say)."""

    text: str | None
    input_tokens: int | None = None
    output_tokens: int | None = None
    error: str | None = None


class Generate(Protocol):
    """Async chat completion for a named model."""

    def __call__(self, model: str, messages: list[dict[str, str]], *, temperature: float, max_tokens: int) -> Awaitable[Generation]: ...


class Retriever(Protocol):
    """Document access for the retrieval conditions."""

    def search(self, query: str, k: int) -> list[tuple[str, str]]:
        """(id, short text) of the top-k entries for `query`."""
        ...

    def read(self, ids: Sequence[str], token_budget: int) -> str:
        """The text of `ids`, at most `token_budget` tokens."""
        ...

    def everything(self, token_budget: int) -> str:
        """As much of the corpus as fits `token_budget` tokens."""
        ...


class RunSpec(BaseModel):
    """What to run."""

    model_config = ConfigDict(extra="forbid")

    models: list[str] = Field(min_length=1)
    conditions: list[Condition] = Field(min_length=1)
    samples: int = Field(20, ge=0, le=100, description="sampled answers per cell besides the greedy one")
    temperature: float = Field(0.7, ge=0, le=2)
    max_tokens: int = Field(16, ge=1, le=32768)
    concurrency: int = Field(8, ge=1, le=256, description="requests in flight at once")
    top_k: int = Field(10, ge=1, le=100)
    context_tokens: int = Field(3000, ge=100, description="token budget for retrieved / max-context text")
    agent_steps: int = Field(4, ge=1, le=20, description="tool steps before the agent must answer")


def _question(item: Item) -> str:
    opts = "\n".join(f"{k}. {v.text}" for k, v in item.options.items())
    return f"{item.question}\n\n{opts}\n\nAnswer with one letter."


def build_messages(item: Item, condition: str, spec: RunSpec, retriever: Retriever | None) -> list[dict[str, str]]:
    """The prompt for one item under a (non-agentic) condition."""
    context: str | None = None
    if condition == "evidence_clean":
        context = item.evidence_clean
    elif condition == "evidence_conflict":
        context = item.evidence_conflict
    elif condition in ("top_k", "context_max"):
        if retriever is None:
            raise RadsafeError(f"condition {condition!r} needs a document corpus (pass --corpus)")
        if condition == "top_k":
            hits = retriever.search(item.question or _question(item), spec.top_k)
            context = retriever.read([h[0] for h in hits], spec.context_tokens) if hits else ""
        else:
            context = retriever.everything(spec.context_tokens)
    user = _question(item) if context is None else f"Context:\n{context}\n\nQuestion:\n{_question(item)}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


# Linear in the reply, which a document can steer: `^\s*` re-scanned every later blank line from each line start
# and `(.+?)\s*$` every later space from each character (20,000 line breaks took 9.5 s on the run's event loop).
_ACTION = re.compile(r"^[ \t]*+(SEARCH|READ)\s*+:\s*+(.*\S)", re.IGNORECASE | re.MULTILINE)


async def _agent(generate: Generate, model: str, item: Item, spec: RunSpec, retriever: Retriever, temperature: float) -> Generation:
    if retriever is None:
        raise RadsafeError("condition 'agentic_rag' needs a document corpus (pass --corpus)")
    messages = [{"role": "system", "content": AGENT_SYSTEM}, {"role": "user", "content": _question(item)}]
    tin = tout = 0
    for step in range(spec.agent_steps + 1):
        g = await generate(model, messages, temperature=temperature, max_tokens=max(spec.max_tokens, 64))
        tin += g.input_tokens or 0
        tout += g.output_tokens or 0
        action = _ACTION.search(g.text or "") if g.error is None else None
        if action is None or step == spec.agent_steps:
            return Generation(text=g.text, input_tokens=tin, output_tokens=tout, error=g.error)
        verb, arg = action.group(1).upper(), action.group(2)
        if verb == "SEARCH":
            hits = retriever.search(arg, spec.top_k)
            result = "\n".join(f"{i}: {t}" for i, t in hits) or "no results"
        else:
            result = retriever.read([x.strip() for x in arg.split(",")], spec.context_tokens)
        last = step + 1 == spec.agent_steps
        messages += [{"role": "assistant", "content": g.text or ""},
                     {"role": "user", "content": f"{verb} result:\n{result}"
                      + ("\n\nNo more look-ups: give your final answer as `Answer: <letter>`." if last else "")}]
    raise AssertionError("unreachable")


def _prepare(out: Path, items: list[Item], spec: RunSpec, name: str) -> tuple[set[tuple[str, str, str]], list[Exclusion]]:
    """Create or reopen `out/run.jsonl`; cut a torn last line; return finished cells and recorded exclusions."""
    path = out / "run.jsonl"
    if not path.exists():
        out.mkdir(parents=True, exist_ok=True)
        path.write_text("", encoding="utf-8")
        append_jsonl(path, "run", _Header(name=name, meta={"spec": spec.model_dump()}))
        for it in items:
            append_jsonl(path, "item", it)
        return set(), []
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)
    run = read_jsonl(path)
    known = {i.id for i in run.items}
    missing = [i.id for i in items if i.id not in known]
    if missing:
        raise RadsafeError(f"{path} was started with other items (new: {missing[:5]}); use a new output directory")
    return {(r.model, r.condition, r.item_id) for r in run.responses}, run.exclusions


class _Header(BaseModel):
    name: str
    meta: dict


async def run_models(
    items: list[Item],
    spec: RunSpec,
    generate: Generate,
    out: str | Path,
    *,
    retriever: Retriever | None = None,
    progress: Callable[[int, int], None] | None = None,
    name: str | None = None,
    judge: Complete | None = None,
) -> Run:
    """Run every (model, condition, item) cell not yet in `out/run.jsonl`; return the whole run.

    With `judge`, every answer's letter is the judge's confirmed letter (phase-4 style, with
    both guards; `Answer.judge` keeps the verdict) instead of the deterministic parser's.
    """
    out = Path(out)
    done, recorded = _prepare(out, items, spec, name or out.name)
    todo = [(m, c, it) for m in spec.models for c in spec.conditions for it in items if (m, c, it.id) not in done]
    skipped: list[Exclusion] = []
    for c in ("evidence_clean", "evidence_conflict"):
        if c in spec.conditions:
            lacking = [it for it in items if getattr(it, c) is None]
            if lacking:
                skipped.append(Exclusion(kind="missing_condition", condition=c,
                                         detail=f"{len(lacking)} item(s) have no {c} text; not run"))
                todo = [t for t in todo if not (t[1] == c and getattr(t[2], c) is None)]
    total = len(todo)
    sem = asyncio.Semaphore(spec.concurrency)
    lock = asyncio.Lock()
    finished = 0
    texts = {it.id: {k: v.text for k, v in it.options.items()} for it in items}

    async def one(model: str, cond: str, item: Item, temperature: float) -> Answer:
        async with sem:
            t0 = time.perf_counter()
            try:
                if cond == "agentic_rag":
                    g = await _agent(generate, model, item, spec, retriever, temperature)  # type: ignore[arg-type]
                else:
                    msgs = await asyncio.to_thread(build_messages, item, cond, spec, retriever)
                    g = await generate(model, msgs, temperature=temperature, max_tokens=spec.max_tokens)
            except (RadsafeError, LookupError, PermissionError):
                raise  # a configuration mistake (unknown model, budget): stop, finished cells are kept
            except Exception as exc:  # noqa: BLE001  (a failed request is a null answer with its error)
                g = Generation(text=None, error=f"{type(exc).__name__}: {exc}")
            latency = time.perf_counter() - t0
        parsed = parse_answer(g.text, texts[item.id]).letter if g.error is None else None
        verdict = None
        letter = parsed
        if judge is not None and g.error is None:
            verdict = await judge_answer(g.text, item.question, texts[item.id], judge)
            letter = verdict["confirmed_answer"]
        return Answer(raw=g.text, parsed=parsed, letter=letter, judge=verdict, input_tokens=g.input_tokens,
                      output_tokens=g.output_tokens, latency_s=round(latency, 4), error=g.error)

    cell_slots = asyncio.Semaphore(spec.concurrency)  # bounds the cells (and their request tasks) alive at once

    async def cell(model: str, cond: str, item: Item) -> None:
        nonlocal finished
        async with cell_slots:
            answers = await asyncio.gather(one(model, cond, item, 0.0),
                                           *(one(model, cond, item, spec.temperature) for _ in range(spec.samples)))
        resp = Response(model=model, condition=cond, item_id=item.id, correct_answer=item.answer,
                        greedy=answers[0], samples=list(answers[1:]))
        async with lock:
            append_jsonl(out / "run.jsonl", "response", resp)
            finished += 1
            if progress:
                progress(finished, total)

    if progress:
        progress(0, total)
    await asyncio.gather(*(cell(m, c, it) for m, c, it in todo))
    for e in skipped:
        if e not in recorded:
            append_jsonl(out / "run.jsonl", "exclusion", e)
    return read_jsonl(out / "run.jsonl")


def router_judge(router: object, model: str) -> Complete:
    """An async judge `Complete` over the router: temperature 0, JSON output, the given model."""

    async def complete(messages: list[dict[str, str]]) -> str:
        return await router.complete(messages, model=model, temperature=0.0, json_output=True, max_tokens=256)  # type: ignore[attr-defined]

    return complete


def router_generate(router: object, **options: object) -> Generate:
    """A `Generate` over an `router.core.Router` (already started); usage comes from the router."""
    from ogmux.router.types import ChatRequest

    async def generate(model: str, messages: list[dict[str, str]], *, temperature: float, max_tokens: int) -> Generation:
        req = ChatRequest.model_validate({"messages": messages, "model": model, "temperature": temperature,
                                          "max_tokens": max_tokens, **options})
        res = await router.chat(req)  # type: ignore[attr-defined]
        return Generation(text=res.choices[0], input_tokens=res.usage.prompt_tokens, output_tokens=res.usage.completion_tokens)

    return generate
