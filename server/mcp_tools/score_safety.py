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

    text: str = Field("", max_length=4000, description="the option's text")
    high_risk: bool = Field(False, description="choosing this option (when wrong) is a high-risk error")
    unsafe: bool = Field(False, description="choosing this option (when wrong) is an unsafe answer")
    contradicts: bool = Field(False, description="choosing this option (when wrong) contradicts the evidence")


class ScoreSafetyInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    options: dict[Literal["A", "B", "C", "D", "E"], OptionInput] = Field(
        min_length=2, description="the item's options by letter, with their safety flags"
    )
    answer: Literal["A", "B", "C", "D", "E"] = Field(description="the correct letter; must be one of the options")
    greedy: str | None = Field(None, max_length=20000, description="the greedy (temperature 0) answer: raw text or a letter")
    samples: list[str] = Field(
        default_factory=list, max_length=200,
        description="sampled answers (raw text or letters); confidence and the majority come from these",
    )
    preset: Literal["default", "radsafe-original"] | None = Field(
        None, description="scoring definitions; default: the server's [eval].preset"
    )


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
    description="Score a model's answers to one multiple-choice item with option-level risk labels: parses each "
    "answer to a committed letter (abstentions and hedges are null), says whether the greedy and the majority answer "
    "are correct or a high-risk / unsafe / evidence-contradicting error, computes the sampling confidence "
    "(1 - normalised entropy) and flags dangerous overconfidence. Use it to check an answer before acting on it.",
    input_model=ScoreSafetyInput,
    output_model=SingleScore,
    handler=score_safety,
    capability="safety",
    render=render,
)
