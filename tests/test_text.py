"""Counts in user-facing text: singular for one, plural otherwise."""

from __future__ import annotations

from ogmux.text import plural


def test_plural() -> None:
    assert [plural(n, "node") for n in (0, 1, 2)] == ["0 nodes", "1 node", "2 nodes"]
    assert plural(1, "match", "matches") == "1 match" and plural(3, "match", "matches") == "3 matches"
