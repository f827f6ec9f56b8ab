"""Role scopes: which nodes a caller may see. Every query function filters through here.

A node's effective scopes are its own, else its document's default scope. A node with no
effective scope is public. A caller holding "*" sees everything; otherwise it sees public
nodes and nodes sharing at least one scope with it. Nothing about an invisible node —
its id, text, score contribution, edges or changelog mentions — may leave the query layer,
so unknown and hidden ids raise the same `NotFoundError`.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ALL_SCOPES",
    "PUBLIC",
    "NotFoundError",
    "Scopes",
    "covers",
    "effective_scopes",
    "is_visible",
    "normalize_scopes",
    "scope_key",
]

Scopes = frozenset[str]
ALL_SCOPES: Scopes = frozenset({"*"})
PUBLIC = "public"


class NotFoundError(LookupError):
    """An id that does not exist or that the caller may not see (the two are indistinguishable)."""

    def __init__(self, kind: str, name: str, hint: str = ""):
        self.kind = kind
        self.name = name
        message = f"{kind} not found: {name!r}"
        super().__init__(f"{message}; {hint}" if hint else message)


def normalize_scopes(scopes: Iterable[str] | None) -> Scopes:
    """The caller's scopes as a frozenset; None means all scopes (trusted in-process callers)."""
    if scopes is None:
        return ALL_SCOPES
    return frozenset(scopes)


def effective_scopes(declared: Iterable[str]) -> Scopes:
    """A node's declared scope names as effective scopes: empty (public) when "public" is among them."""
    names = frozenset(declared)
    return frozenset() if not names or PUBLIC in names else names


def covers(outer: Scopes, inner: Scopes) -> bool:
    """True if every caller who sees a node with effective scopes `inner` also sees one with `outer`.

    Text derived from several nodes (a section's heading path, a document's title, term
    statistics) may only combine a node with nodes that cover it.
    """
    return not outer or (bool(inner) and inner <= outer)


def is_visible(node_scopes: frozenset[str], caller: Scopes) -> bool:
    """True if a node with effective scopes `node_scopes` is visible to a caller holding `caller`."""
    return not node_scopes or "*" in caller or not node_scopes.isdisjoint(caller)


def scope_key(caller: Scopes, corpus_scopes: frozenset[str]) -> frozenset[str]:
    """The part of the caller's scopes that matters for this corpus (callers with equal keys see the same nodes)."""
    return ALL_SCOPES if "*" in caller else caller & corpus_scopes
