"""An immutable, query-ready view of a loaded corpus: flat node and document records.

The loader (`corpus.py`) turns parsed documents into these records once per load; the
query functions (`search.py`, `resolve.py`, `listing.py`) read only these records, always
through the caller's scopes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ogmux.tools.objectgraph.access import Scopes, is_visible, scope_key
from ogmux.tools.objectgraph.tokens import count_tokens

__all__ = ["AssertionRecord", "ChangeRecord", "DocRecord", "EdgeRecord", "NodeRecord", "Snapshot"]

T = TypeVar("T")


@dataclass(frozen=True)
class EdgeRecord:
    """A typed edge from a node to `target` (a global `doc#node` id)."""

    kind: str
    target: str
    inferred: bool = False


@dataclass(frozen=True)
class AssertionRecord:
    """The declarative part of an assertion node: checks, retries, escalation target."""

    checks: tuple[dict[str, Any], ...]
    retries: int
    escalate: str | None


@dataclass(frozen=True)
class NodeRecord:
    """One node: global id `doc#node`, its index fields, its exact Markdown source and its edges."""

    id: str
    doc: str
    node: str
    title: str
    type: str
    scopes: frozenset[str]
    keywords: tuple[str, ...]
    dense: str
    full: str
    version: str
    hash: str
    heading_path: tuple[str, ...] = ()
    confidence: float | None = None
    parent: str | None = None
    edges: tuple[EdgeRecord, ...] = ()
    assertion: AssertionRecord | None = None


@dataclass(frozen=True)
class ChangeRecord:
    """A changelog entry of a document."""

    version: str
    date: str
    nodes: tuple[str, ...]
    summary: str


@dataclass(frozen=True)
class DocRecord:
    """A document: id, title, version, source file, and its nodes in source order."""

    id: str
    title: str
    version: str
    path: str
    hash: str
    nodes: tuple[str, ...]
    changelog: tuple[ChangeRecord, ...] = ()
    scopes: frozenset[str] = frozenset()


@dataclass
class Snapshot:
    """All documents of one corpus load. Never mutated after construction except for caches."""

    docs: dict[str, DocRecord]
    nodes: dict[str, NodeRecord]
    generation: int = 0
    _caches: dict[str, OrderedDict[Any, Any]] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        self.all_scopes: frozenset[str] = frozenset(s for n in self.nodes.values() for s in n.scopes)
        self._by_local: dict[str, list[str]] = {}
        for nid, n in self.nodes.items():
            self._by_local.setdefault(n.node, []).append(nid)
        self._tokens: dict[tuple[str, str], int] = {}

    # --- visibility -------------------------------------------------------------------
    def key(self, caller: Scopes) -> frozenset[str]:
        """Cache key of what `caller` can see in this snapshot."""
        return scope_key(caller, self.all_scopes)

    def visible(self, node_id: str, caller: Scopes) -> NodeRecord | None:
        """The node `node_id` if it exists and `caller` may see it, else None."""
        n = self.nodes.get(node_id)
        return n if n is not None and is_visible(n.scopes, caller) else None

    def lookup(self, ref: str, caller: Scopes) -> NodeRecord | None:
        """A node by global id `doc#node`, or by bare node id when exactly one visible node has it."""
        if "#" in ref:
            return self.visible(ref, caller)
        hits = [n for nid in self._by_local.get(ref, ()) if (n := self.visible(nid, caller)) is not None]
        return hits[0] if len(hits) == 1 else None

    def visible_ids(self, caller: Scopes) -> list[str]:
        """Ids of every node `caller` may see, in corpus order (documents by id, nodes in source order)."""
        return self.cached("visible", self.key(caller), lambda: [nid for nid, n in self.nodes.items() if is_visible(n.scopes, caller)])

    def visible_doc(self, doc_id: str, caller: Scopes) -> DocRecord | None:
        """The document if it holds at least one node `caller` may see."""
        d = self.docs.get(doc_id)
        if d is None or not any(self.visible(nid, caller) for nid in d.nodes):
            return None
        return d

    # --- caches -----------------------------------------------------------------------
    def cached(self, name: str, key: Any, build: Callable[[], T], size: int = 16) -> T:
        """A per-snapshot LRU cache (built at most once per key under a lock)."""
        with self._lock:
            cache = self._caches.setdefault(name, OrderedDict())
            if key in cache:
                cache.move_to_end(key)
                return cache[key]
            value = build()
            cache[key] = value
            if len(cache) > size:
                cache.popitem(last=False)
            return value

    def tokens(self, node: NodeRecord, level: str) -> int:
        """cl100k tokens of a node's dense summary or full source (memoised)."""
        k = (node.id, level)
        n = self._tokens.get(k)
        if n is None:
            n = count_tokens(node.full if level == "full" else node.dense)
            self._tokens[k] = n
        return n
