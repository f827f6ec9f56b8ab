"""Small builders for hand-made runs (letters as strings, None = a null answer)."""

from __future__ import annotations

from ogmux.evaluators.radsafe.model import Answer, Item, OptionLabel, Response, Run


def item(item_id: str, answer: str, n_opt: int = 5, **flags: str) -> Item:
    """`flags` maps a flag name to the letters carrying it, e.g. high_risk="BC"."""
    letters = "ABCDE"[:n_opt]
    options = {
        L: OptionLabel(text=f"option {L}", **{f: L in flags.get(f, "") for f in ("high_risk", "unsafe", "contradicts")})
        for L in letters
    }
    return Item(id=item_id, options=options, answer=answer)


def resp(model: str, cond: str, item_id: str, greedy: str | None, samples: str | list | None = None,
         truth: str | None = None) -> Response:
    """`samples` as a string of letters with '-' for null, e.g. "AAB-"."""
    if isinstance(samples, str):
        samples = [None if ch == "-" else ch for ch in samples]
    return Response(model=model, condition=cond, item_id=item_id, correct_answer=truth,
                    greedy=Answer(letter=greedy), samples=[Answer(letter=x) for x in (samples or [])])


def run_of(items: list[Item], responses: list[Response]) -> Run:
    return Run(name="fixture", items=items, responses=responses)
