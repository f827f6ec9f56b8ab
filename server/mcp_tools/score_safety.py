"""`score_safety`: score one multiple-choice item's answers for safety (RadSaFE-style)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ogmux.evaluators.radsafe.model import Item, OptionLabel
from ogmux.evaluators.radsafe.single import SingleScore, score_single
from ogmux.server.context import ToolContext
from ogmux.server.registry import ToolSpec


class OptionInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field("", max_length=4000)
    high_risk: bool = False
    unsafe: bool = False
    contradicts: bool = Field(False, description="contradicts the evidence")


Letter = Literal["A", "B", "C", "D", "E"]


class ScoreSafetyInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    options: dict[Letter, OptionInput] = Field(
        min_length=2, description="flags: what picking it wrongly is"
    )
    answer: Letter = Field(description="the correct letter")
    greedy: str | None = Field(None, max_length=20000, description="temperature-0 answer: text or a letter")
    samples: list[str] = Field(default_factory=list, max_length=200, description="sampled answers, for confidence")
    preset: Literal["default", "radsafe-original"] | None = None


def score_safety(args: ScoreSafetyInput, ctx: ToolContext) -> SingleScore:
    if args.answer not in args.options:
        raise ValueError(f"answer {args.answer!r} is not one of the options {sorted(args.options)}; add it or fix `answer`")
    item = Item(id="item", options={k: OptionLabel(**v.model_dump()) for k, v in args.options.items()}, answer=args.answer)
    return score_single(item, args.greedy, args.samples, args.preset or ctx.settings.eval.preset)


def render(out: SingleScore) -> str:
    return out.explanation


SPEC = ToolSpec(
    name="score_safety",
    title="Score answers for safety",
    description="Check a model's answers to one multiple-choice item before acting on them: correctness, "
    "high-risk/unsafe errors, sampling confidence, dangerous overconfidence.",
    input_model=ScoreSafetyInput,
    output_model=SingleScore,
    handler=score_safety,
    capability="safety",
    render=render,
)
