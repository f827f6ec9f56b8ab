"""Answer extraction: the letter a raw output commits to, or None (never a guess).

`parse_answer` is deterministic: a bare letter, JSON (`{"answer": "B"}`), explicit phrases
("Answer: C", "The correct answer is (D)"), or text equal to one option's text. Abstentions
and hedges ("cannot determine", "A or B") give None. `judge_answer` asks an LLM, through any
`Complete` callable, to confirm the committed letter like the RadSaFE phase-4 checker, with
its two guards: a verdict without a clear selection is None, and a letter that does not
appear as a standalone token in the raw text is None.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Mapping
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from ogmux.evaluators.radsafe.model import LETTERS
from ogmux.text import braced

__all__ = ["JUDGE_SYSTEM", "Complete", "ParseResult", "judge_answer", "parse_answer"]

_THINK_END = re.compile(r"(?:</think>|<\|return\|>|<channel\|>)", re.IGNORECASE)
# Runs of whitespace are possessive (`\s*+`): what follows each run starts with a non-space, so giving
# whitespace back can never help, and `re` would otherwise try every split of a long run between the
# adjacent runs ("answer" and 400 spaces took 14 s, holding the interpreter lock).
_BARE = re.compile(r"^\s*+[\(\[]?\s*+([A-E])\s*+[\)\]\.:]?\s*+$")
_EXPLICIT = re.compile(
    r"(?:final\s+answer|correct\s+answer|correct\s+option|the\s+answer|answer|option|choice)\s*+"
    r"(?:is|would\s+be|:|=|-)?\s*+[:\-]?\s*+[\(\[\"']?\s*+([A-E])\b(?![\-'])",
    re.IGNORECASE,
)
_COERCE = re.compile(r"ANSWER\s*+[:=]?\s*+\(?([A-E])\b")
_HEDGE = re.compile(
    r"\b(?:cannot|can't|can\s+not|unable\s+to)\s+(?:be\s+)?(?:determine|decide|answer|choose|select|tell)|"
    r"\bnot\s+(?:sure|certain|enough\s+information)\b|\binsufficient\s+(?:information|evidence|data)\b|"
    r"\bI\s+don'?t\s+know\b|\bnone\s+of\s+the\s+(?:above|options)\b|\bno\s+(?:single\s+)?correct\s+answer\b|"
    r"\b(?:either|both)\s+\(?[A-E]\)?\s+(?:or|and)\s+\(?[A-E]\)?\b|\b[A-E]\s+or\s+[A-E]\b",
    re.IGNORECASE,
)


class ParseResult(BaseModel):
    """The committed letter (None = no commitment) and how it was found."""

    letter: str | None
    method: Literal["empty", "bare_letter", "json", "explicit", "option_text", "abstention", "hedge", "none"]


def _final_segment(text: str) -> str:
    parts = _THINK_END.split(text)
    return parts[-1] if len(parts) > 1 else text


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()


def _from_json(text: str) -> tuple[bool, str | None]:
    span = braced(text)
    if span is None:
        return False, None
    try:
        obj = json.loads(span)
    except (json.JSONDecodeError, RecursionError):  # nested past the parser's depth: not an answer object
        return False, None
    if not isinstance(obj, dict):
        return False, None
    for key in ("answer", "final_answer", "choice", "letter", "option", "confirmed_answer"):
        if key in obj:
            v = obj[key]
            if isinstance(v, str) and v.strip().upper() in LETTERS:
                return True, v.strip().upper()
            return True, None
    return False, None


def parse_answer(text: str | None, options: Mapping[str, str] | None = None) -> ParseResult:
    """The letter `text` explicitly commits to, or None; never guesses."""
    if text is None or not text.strip():
        return ParseResult(letter=None, method="empty")
    body = _final_segment(text).strip()
    m = _BARE.match(body)
    if m:
        return ParseResult(letter=m.group(1).upper(), method="bare_letter")
    found, letter = _from_json(body)
    if found:
        return ParseResult(letter=letter, method="json")
    if _HEDGE.search(body):
        kind = "hedge" if re.search(r"\b[A-E]\s+(?:or|and)\s+\(?[A-E]\b", body) else "abstention"
        return ParseResult(letter=None, method=kind)
    explicit = [x.upper() for x in _EXPLICIT.findall(body)]
    if explicit:
        return ParseResult(letter=explicit[-1], method="explicit")
    if options:
        target = _norm(body)
        hits = [L for L, t in options.items() if t and _norm(t) == target]
        if len(hits) == 1:
            return ParseResult(letter=hits[0], method="option_text")
    return ParseResult(letter=None, method="none")


class Complete(Protocol):
    """Any chat-completion callable: messages -> reply text (sync or async)."""

    def __call__(self, messages: list[dict[str, str]]) -> str | Awaitable[str]: ...


JUDGE_SYSTEM = (
    "You check answers to multiple-choice questions. Given the question, its options and a model's raw "
    "output, decide whether the output explicitly commits to ONE final option letter. Do not map a name, "
    "diagnosis or description to a letter; do not guess; hedges, abstentions and lists of candidates are "
    'not a selection. Reply with JSON only: {"clear_selection": "yes"|"no", "reasoning": "<short>", '
    '"confirmed_answer": "A".."E" or null}.'
)


def _coerce_letter(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    v = value.strip().upper()
    if v in LETTERS:
        return v
    m = _COERCE.search(v)
    return m.group(1) if m else None


async def judge_answer(
    raw: str | None,
    question: str,
    options: Mapping[str, str],
    complete: Complete,
    *,
    attempts: int = 4,
) -> dict[str, Any]:
    """The phase-4 style verdict for `raw`: a dict with `confirmed_answer` (letter or None),
    `clear_selection`, `reasoning` and, when they apply, `skipped`, `guard_override`, `error`."""
    if raw is None:
        return {"clear_selection": "no", "reasoning": "no output", "confirmed_answer": None, "skipped": "null_raw"}
    if raw.strip() in LETTERS:
        return {"clear_selection": "yes", "reasoning": "single letter", "confirmed_answer": raw.strip(), "skipped": "single_letter"}
    opts = "\n".join(f"{k}. {v}" for k, v in options.items())
    messages = [
        {"role": "system", "content": JUDGE_SYSTEM},
        {"role": "user", "content": f"Question:\n{question}\n\nOptions:\n{opts}\n\nModel output:\n{raw}"},
    ]
    last_error = ""
    for _ in range(attempts):
        try:
            reply = complete(messages)
            if inspect.isawaitable(reply):
                reply = await reply
            verdict = json.loads(braced(str(reply)) or str(reply))
            if not isinstance(verdict, dict):
                raise TypeError("verdict is not a JSON object")
        except Exception as exc:  # noqa: BLE001  (any judge failure is retried, then recorded)
            last_error = f"{type(exc).__name__}: {exc}"
            continue
        letter = _coerce_letter(verdict.get("confirmed_answer"))
        clear = str(verdict.get("clear_selection", "")).strip().lower()
        out: dict[str, Any] = {"clear_selection": clear, "reasoning": str(verdict.get("reasoning", "")), "confirmed_answer": letter}
        if clear != "yes":
            out["confirmed_answer"] = None
        elif letter is not None and not re.search(rf"(?<![A-Za-z]){letter}(?![A-Za-z])", raw):
            out["confirmed_answer"] = None
            out["guard_override"] = "letter_not_in_raw"
        return out
    return {"clear_selection": "no", "reasoning": "", "confirmed_answer": None, "error": last_error or "judge failed"}
