"""Wording shared by the text every package shows to people and agents, and reading what models reply."""

from __future__ import annotations

__all__ = ["braced", "plural"]


def plural(n: int, noun: str, plural_form: str | None = None) -> str:
    """`n` with `noun`, in the plural unless n is 1: `plural(1, "node")` is "1 node", `plural(2, "match", "matches")`
    is "2 matches"."""
    return f"{n} {noun if n == 1 else plural_form or noun + 's'}"


def braced(text: str) -> str | None:
    """From the first "{" to the last "}" of a model's reply (what `\\{.*\\}` finds, without its backtracking,
    quadratic in a reply of unclosed braces), or None when there is no such span."""
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else None
