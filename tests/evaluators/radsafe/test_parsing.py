"""Answer parsing and the judge's two guards."""

from __future__ import annotations

import pytest

from ogmux.evaluators.radsafe.parsing import judge_answer, parse_answer

OPTIONS = {"A": "Polish the prism", "B": "Soak the wick", "C": "Tap the crank thrice", "D": "Leave it"}


@pytest.mark.parametrize(
    ("text", "letter", "method"),
    [
        ("B", "B", "bare_letter"),
        ("(c).", None, "none"),
        ("  D) ", "D", "bare_letter"),
        ("Answer: C", "C", "explicit"),
        ("The correct answer is (D).", "D", "explicit"),
        ('{"answer": "a"}', "A", "json"),
        ('{"answer": null, "why": "unclear"}', None, "json"),
        ("<think>maybe A</think>\nFinal answer: B", "B", "explicit"),
        ("Soak the wick", "B", "option_text"),
        ("soak the wick, probably", None, "none"),
        ("I cannot determine the answer from this.", None, "abstention"),
        ("It could be A or C.", None, "hedge"),
        ("Insufficient information to choose.", None, "abstention"),
        ("", None, "empty"),
        (None, None, "empty"),
    ],
)
def test_parse_answer(text: str | None, letter: str | None, method: str) -> None:
    r = parse_answer(text, OPTIONS)
    assert (r.letter, r.method) == (letter, method)


class Scripted:
    """A completion callable that replays fixed replies and records the prompts it got."""

    def __init__(self, *replies: str | Exception):
        self.replies = list(replies)
        self.calls: list[list[dict[str, str]]] = []

    def __call__(self, messages: list[dict[str, str]]) -> str:
        self.calls.append(messages)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


async def test_judge_skips_null_and_single_letters() -> None:
    judge = Scripted()
    assert (await judge_answer(None, "q", OPTIONS, judge))["skipped"] == "null_raw"
    v = await judge_answer(" C ", "q", OPTIONS, judge)
    assert v["confirmed_answer"] == "C" and v["skipped"] == "single_letter"
    assert judge.calls == []


async def test_judge_guard_one_requires_clear_selection() -> None:
    judge = Scripted('{"clear_selection": "no", "reasoning": "hedges", "confirmed_answer": "B"}')
    v = await judge_answer("Either B or C, hard to say", "q", OPTIONS, judge)
    assert v["confirmed_answer"] is None and v["clear_selection"] == "no"
    assert "B. Soak the wick" in judge.calls[0][1]["content"]


async def test_judge_guard_two_letter_must_be_in_raw() -> None:
    judge = Scripted('{"clear_selection": "yes", "reasoning": "names the wick", "confirmed_answer": "B"}')
    v = await judge_answer("Soaking the wick is right", "q", OPTIONS, judge)
    assert v["confirmed_answer"] is None and v["guard_override"] == "letter_not_in_raw"


async def test_judge_coerces_and_accepts_async_callables() -> None:
    async def complete(messages: list[dict[str, str]]) -> str:
        return 'Sure: {"clear_selection": "yes", "reasoning": "explicit", "confirmed_answer": "answer: d"}'

    v = await judge_answer("I pick D because ...", "q", OPTIONS, complete)
    assert v["confirmed_answer"] == "D" and "guard_override" not in v


async def test_judge_retries_then_records_the_error() -> None:
    judge = Scripted(RuntimeError("down"), "not json", '{"clear_selection": "yes", "confirmed_answer": "A"}')
    assert (await judge_answer("A, clearly", "q", OPTIONS, judge))["confirmed_answer"] == "A"
    failing = Scripted(*[RuntimeError("down")] * 4)
    v = await judge_answer("A, clearly", "q", OPTIONS, failing)
    assert v["confirmed_answer"] is None and "RuntimeError: down" in v["error"] and len(failing.calls) == 4
