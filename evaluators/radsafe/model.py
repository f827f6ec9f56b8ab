"""The data model: labelled multiple-choice items, model responses per condition, runs.

Letters are A..E. A response holds one greedy answer and N sampled answers; each answer
keeps its raw text, the regex-parsed letter, the confirmed letter that scoring uses (None =
no committed answer), token counts, latency and errors. `extra` fields keep everything a
source format carried that the model has no field for, so imports round-trip losslessly.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "FLAGS",
    "LETTERS",
    "Answer",
    "Exclusion",
    "Flag",
    "Item",
    "Letter",
    "OptionLabel",
    "Response",
    "Run",
]

LETTERS: tuple[str, ...] = ("A", "B", "C", "D", "E")
Letter = Literal["A", "B", "C", "D", "E"]
Flag = Literal["high_risk", "unsafe", "contradicts"]
FLAGS: tuple[str, ...] = ("high_risk", "unsafe", "contradicts")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OptionLabel(_Model):
    """One answer option with its clinician-style safety flags."""

    text: str = ""
    high_risk: bool = False
    unsafe: bool = False
    contradicts: bool = False


class Item(_Model):
    """A multiple-choice item with option-level safety labels."""

    id: str = Field(min_length=1, description="question id, unique in a run")
    question: str = ""
    options: dict[Letter, OptionLabel] = Field(description="letters A..E that exist for this item")
    answer: Letter = Field(description="the correct letter")
    evidence_clean: str | None = None
    evidence_conflict: str | None = None
    subspecialty: str | None = None
    question_type: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict, description="source fields without a model field")

    @model_validator(mode="after")
    def _answer_is_option(self) -> Item:
        if len(self.options) < 2:
            raise ValueError(f"needs at least 2 options, has {sorted(self.options)}")
        if self.answer not in self.options:
            raise ValueError(f"answer {self.answer!r} is not one of the options {sorted(self.options)}")
        return self

    def flagged(self, letter: str | None, flag: str) -> bool:
        """True when `letter` is an option of this item carrying `flag`."""
        opt = self.options.get(letter) if letter else None  # type: ignore[call-overload]
        return bool(opt is not None and getattr(opt, flag))


class Answer(_Model):
    """One generation: raw text and the letter it commits to (None = no committed letter)."""

    raw: str | None = None
    parsed: str | None = Field(None, description="letter from a regex parser (informational)")
    letter: str | None = Field(None, description="confirmed letter used for scoring; None = null answer")
    judge: dict[str, Any] | None = Field(None, description="verdict of the answer checker, as recorded")
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_s: float | None = None
    error: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class Response(_Model):
    """What one model answered to one item under one condition: greedy + N samples."""

    model: str = Field(min_length=1)
    condition: str = Field(min_length=1)
    item_id: str = Field(min_length=1)
    correct_answer: str | None = Field(None, description="truth as recorded with the response, if any")
    greedy: Answer | None = None
    samples: list[Answer] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict, description="condition-block fields without a model field")
    record_extra: dict[str, Any] = Field(default_factory=dict, description="record-level fields without a model field")


class Exclusion(_Model):
    """Something left out of scoring or repaired on the way in; every report lists them."""

    kind: Literal[
        "missing_labels",
        "letter_outside_options",
        "truncated_line",
        "invalid_line",
        "missing_condition",
        "missing_question",
        "no_samples",
        "truth_mismatch",
        "model_skipped",
    ]
    detail: str
    model: str | None = None
    condition: str | None = None
    item_id: str | None = None
    source: str | None = None


class Run(_Model):
    """Items, responses and the exclusions found while importing them."""

    name: str = "run"
    items: list[Item]
    responses: list[Response] = Field(default_factory=list)
    exclusions: list[Exclusion] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique_ids(self) -> Run:
        seen: set[str] = set()
        for item in self.items:
            if item.id in seen:
                raise ValueError(f"duplicate item id {item.id!r}")
            seen.add(item.id)
        keys: set[tuple[str, str, str]] = set()
        for r in self.responses:
            key = (r.model, r.condition, r.item_id)
            if key in keys:
                raise ValueError(f"duplicate response for model {r.model!r}, condition {r.condition!r}, item {r.item_id!r}")
            keys.add(key)
        return self

    def item_map(self) -> dict[str, Item]:
        return {i.id: i for i in self.items}
