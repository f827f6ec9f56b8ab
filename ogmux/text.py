"""Wording shared by the text every package shows to people and agents."""

from __future__ import annotations

__all__ = ["plural"]


def plural(n: int, noun: str, plural_form: str | None = None) -> str:
    """`n` with `noun`, in the plural unless n is 1: `plural(1, "node")` is "1 node", `plural(2, "match", "matches")`
    is "2 matches"."""
    return f"{n} {noun if n == 1 else plural_form or noun + 's'}"
