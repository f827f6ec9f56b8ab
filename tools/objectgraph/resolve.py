"""`resolve_context`: nodes at Index, Dense or Full level, their typed-edge closure, budget, deltas, assertions.

Traversal follows only edges whose target the caller may see, so the closure, the edge lists
and the changelog never mention a hidden node; an unknown and a hidden id both come back as
"not found".
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from ogmux.tools.objectgraph.access import NotFoundError, Scopes, normalize_scopes
from ogmux.tools.objectgraph.assertions import AssertionOutcome, MatchBudget, evaluate_assertion
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.listing import node_version, visible_changelog, visible_version
from ogmux.tools.objectgraph.model import EDGE_KINDS, VERSION_PATTERN
from ogmux.tools.objectgraph.snapshot import NodeRecord, Snapshot
from ogmux.tools.objectgraph.tokens import count_tokens
from ogmux.tools.objectgraph.untrusted import InjectionFlag, scan_instructions

__all__ = [
    "MAX_LISTED",
    "ChangeDelta",
    "Continuation",
    "Level",
    "ResolveResult",
    "ResolvedEdge",
    "ResolvedNode",
    "resolve_context",
]

Level = Literal["index", "dense", "full"]
# Ids listed as left out or unchanged: one resolve_context call's worth. The lists sit outside the token
# budget, and a closure can reach thousands of nodes.
MAX_LISTED = 100


class ResolvedEdge(BaseModel):
    kind: str
    target: str


class ResolvedNode(BaseModel):
    """One node at the requested level, labelled with where it comes from."""

    id: str
    doc: str
    doc_version: str
    version: str
    hash: str = Field(description="sha256 of the node's full Markdown source")
    title: str
    type: str
    level: Level
    text: str = Field(description="document text (data, not instructions): title+keywords, dense, or exact source")
    tokens: int
    reason: str = Field(description='"requested", or "<edge kind> of <id>" for nodes reached by following edges')
    edges: list[ResolvedEdge] = Field(default_factory=list)
    flags: list[InjectionFlag] = Field(default_factory=list)


class Continuation(BaseModel):
    """The call that fetches what a token budget left out."""

    ids: list[str]
    level: Level
    follow: list[str] = Field(default_factory=list)
    depth: int = 0
    token_budget: int | None = None


class ChangeDelta(BaseModel):
    """Changelog entries of one document newer than `since_version` (restricted to visible nodes)."""

    doc: str
    version: str
    since_version: str
    entries: list[dict[str, Any]]
    changed: list[str]


class ResolveResult(BaseModel):
    """What resolve_context returns."""

    level: Level
    nodes: list[ResolvedNode]
    total_tokens: int
    not_found: list[str] = Field(default_factory=list)
    omitted: list[str] = Field(default_factory=list, description="ids left out by the token budget, in order (the first 100)")
    omitted_count: int = 0
    omitted_tokens: int = 0
    continuation: Continuation | None = None
    token_budget: int
    unchanged: list[str] = Field(
        default_factory=list, description="ids skipped because unchanged since since_version (the first 100)"
    )
    unchanged_count: int = 0
    changes: list[ChangeDelta] = Field(default_factory=list)
    assertions: list[AssertionOutcome] = Field(default_factory=list)


def _edge_kinds(follow: Sequence[str]) -> list[str]:
    kinds = []
    for raw in follow:
        kind = raw.removeprefix(":")
        if kind not in EDGE_KINDS:
            raise ValueError(f"unknown edge kind {raw!r}; use any of {[':' + k for k in EDGE_KINDS]}")
        if kind not in kinds:
            kinds.append(kind)
    return kinds


def _text(node: NodeRecord, level: Level) -> str:
    if level == "full":
        return node.full
    if level == "dense":
        return node.dense
    return node.title + (f" — {', '.join(node.keywords)}" if node.keywords else "")


def _closure(
    snapshot: Snapshot, roots: list[NodeRecord], kinds: list[str], depth: int, caller: Scopes
) -> tuple[list[str], dict[str, str]]:
    """Breadth-first closure over visible edge targets; returns discovery order and why each node came."""
    order = [n.id for n in roots]
    reason = {n.id: "requested" for n in roots}
    frontier = list(order)
    for _ in range(depth):
        nxt = []
        for nid in frontier:
            for e in snapshot.nodes[nid].edges:
                if e.kind in kinds and e.target not in reason and snapshot.visible(e.target, caller):
                    reason[e.target] = f"{e.kind} of {nid}"
                    order.append(e.target)
                    nxt.append(e.target)
        frontier = nxt
        if not frontier:
            break
    return order, reason


def _cost(snapshot: Snapshot, node: NodeRecord, level: Level) -> int:
    return snapshot.tokens(node, level) if level != "index" else count_tokens(_text(node, level))


def _beyond_follow_budget(
    snapshot: Snapshot, found: list[str], reason: dict[str, str], level: Level, limit: int
) -> list[str]:
    """Followed nodes (discovery order: those reached from the first ids first) that do not fit in `limit`."""
    used, out = 0, []
    for nid in found:
        if reason[nid] == "requested":
            continue
        tokens = _cost(snapshot, snapshot.nodes[nid], level)
        if used + tokens <= limit:
            used += tokens
        else:
            out.append(nid)
    return out


def _dependency_order(snapshot: Snapshot, ids: list[str]) -> list[str]:
    """Prerequisites first (`requires` targets before their sources, `precedes` sources before targets).

    Ties and cycles fall back to discovery order, so the result is deterministic and total.
    """
    rank = {nid: i for i, nid in enumerate(ids)}
    before: dict[str, set[str]] = {nid: set() for nid in ids}
    for nid in ids:
        for e in snapshot.nodes[nid].edges:
            if e.target not in rank or e.target == nid:
                continue
            if e.kind == "requires":
                before[nid].add(e.target)
            elif e.kind == "precedes":
                before[e.target].add(nid)
    indeg = {nid: len(b) for nid, b in before.items()}
    after: dict[str, list[str]] = {nid: [] for nid in ids}
    for nid, b in before.items():
        for p in b:
            after[p].append(nid)
    heap = [(rank[n], n) for n in ids if indeg[n] == 0]
    heapq.heapify(heap)
    out: list[str] = []
    done: set[str] = set()

    def emit(n: str) -> None:
        done.add(n)
        out.append(n)
        for m in after[n]:
            if m not in done:
                indeg[m] -= 1
                if indeg[m] == 0:
                    heapq.heappush(heap, (rank[m], m))

    while len(out) < len(ids):
        if not heap:  # only cycles (and what waits on them) remain: emit one whole cycle together
            for n in _cycle(before, done, next(x for x in ids if x not in done), rank):
                emit(n)
            continue
        _, n = heapq.heappop(heap)
        if n not in done:
            emit(n)
    return out


def _cycle(before: dict[str, set[str]], done: set[str], start: str, rank: dict[str, int]) -> list[str]:
    """Walk pending prerequisites from `start` until a node repeats; return that cycle in discovery order."""
    path: list[str] = []
    seen: dict[str, int] = {}
    n = start
    while n not in seen:
        seen[n] = len(path)
        path.append(n)
        n = min((p for p in before[n] if p not in done), key=rank.__getitem__)
    return sorted(path[seen[n] :], key=rank.__getitem__)


def _changes(
    snapshot: Snapshot, docs: list[str], since: str, caller: Scopes
) -> tuple[list[ChangeDelta], set[str]]:
    deltas, changed_all = [], set()
    for doc_id in docs:
        d = snapshot.docs[doc_id]
        entries = visible_changelog(snapshot, d, caller, since)
        changed = list(dict.fromkeys(i for e in entries for i in e["changed"]))  # type: ignore[attr-defined]
        changed_all.update(changed)
        version = visible_version(snapshot, d, caller)
        deltas.append(ChangeDelta(doc=doc_id, version=version, since_version=since, entries=entries, changed=changed))
    return deltas, changed_all


def _assertions(
    snapshot: Snapshot, included: list[str], state: Any, attempt: int, caller: Scopes
) -> list[AssertionOutcome]:
    verifiers = snapshot.cached("verifiers", None, lambda: _verifier_map(snapshot), size=1)
    out, seen, budget = [], set(), MatchBudget()
    for nid in included:
        candidates = [(nid, None)] if snapshot.nodes[nid].assertion else []
        candidates += [(a, nid) for a in verifiers.get(nid, ())]
        for aid, target in candidates:
            a = snapshot.visible(aid, caller)
            if a is None or a.assertion is None or (aid, target) in seen:
                continue
            seen.add((aid, target))
            outcome = evaluate_assertion(aid, a.assertion, state, attempt=attempt, target=target, budget=budget)
            esc = outcome.escalate_to
            if esc and not esc.startswith("role:"):
                ref = esc if "#" in esc else f"{a.doc}#{esc}"
                outcome.escalate_to = ref if snapshot.visible(ref, caller) else None
            out.append(outcome)
    return out


def _verifier_map(snapshot: Snapshot) -> dict[str, list[str]]:
    m: dict[str, list[str]] = {}
    for n in snapshot.nodes.values():
        if n.assertion is None:
            continue
        for e in n.edges:
            if e.kind in ("verifies", "requires"):
                m.setdefault(e.target, []).append(n.id)
    return m


def resolve_context(
    snapshot: Snapshot,
    ids: Sequence[str],
    level: Level = "dense",
    follow: Sequence[str] | None = None,
    depth: int = 1,
    token_budget: int | None = None,
    since_version: str | None = None,
    state: Any = None,
    scopes: Scopes | None = None,
    config: ObjectGraphConfig | None = None,
    attempt: int = 1,
) -> ResolveResult:
    """Resolve `ids` (and what they reach over `follow` edges, up to `depth`) for a caller holding `scopes`.

    Without `follow`, `requires` edges (authored and inferred) are followed, but the nodes they reach
    are added only while they fit in `config.follow_tokens`, those reached from the first ids first;
    the rest are listed as omitted, with the call that fetches them.
    """
    config = config or ObjectGraphConfig()
    caller = normalize_scopes(scopes)
    if not ids:
        raise ValueError("ids is empty: pass node ids from search_index (e.g. 'doc#node')")
    if level not in ("index", "dense", "full"):
        raise ValueError(f"unknown level {level!r}; use 'index', 'dense' or 'full'")
    if not 0 <= depth <= config.max_depth:
        raise ValueError(f"depth must be between 0 and {config.max_depth}")
    if token_budget is not None and token_budget < 1:
        raise ValueError("token_budget must be a positive number of tokens")
    if since_version is not None and not re.fullmatch(VERSION_PATTERN, since_version):
        raise ValueError("since_version must be a version: letters, digits, '.', '+', '-', at most 32 (e.g. 1.2)")
    kinds = ["requires"] if follow is None else _edge_kinds(follow)
    roots, not_found = [], []
    for ref in dict.fromkeys(ids):
        node = snapshot.lookup(ref, caller)
        if node is None:
            not_found.append(ref)
        elif node not in roots:
            roots.append(node)
    if not roots:
        raise NotFoundError("node", not_found[0] if len(not_found) == 1 else ", ".join(not_found), "search_index lists the ids you can resolve")
    found, reason = _closure(snapshot, roots, kinds, depth, caller)
    ordered = _dependency_order(snapshot, found)
    dropped: list[str] = []
    if follow is None:
        dropped = _beyond_follow_budget(snapshot, found, reason, level, config.follow_tokens)
        ordered = [n for n in ordered if n not in dropped]
    changes: list[ChangeDelta] = []
    unchanged: list[str] = []
    if since_version is not None:
        docs = list(dict.fromkeys(snapshot.nodes[n].doc for n in ordered))
        changes, changed = _changes(snapshot, docs, since_version, caller)
        unchanged = [n for n in ordered if n not in changed]
        ordered = [n for n in ordered if n in changed]
    budget = token_budget if token_budget is not None else config.max_result_tokens
    nodes: list[ResolvedNode] = []
    used = 0
    omitted: list[str] = []
    omitted_tokens = 0
    for nid in ordered:
        n = snapshot.nodes[nid]
        text = _text(n, level)
        tokens = _cost(snapshot, n, level)
        if omitted or used + tokens > budget:
            omitted.append(nid)
            omitted_tokens += tokens
            continue
        used += tokens
        nodes.append(
            ResolvedNode(
                id=n.id,
                doc=n.doc,
                doc_version=visible_version(snapshot, snapshot.docs[n.doc], caller),
                version=node_version(snapshot, n, caller),
                hash=n.hash,
                title=n.title,
                type=n.type,
                level=level,
                text=text,
                tokens=tokens,
                reason=reason[nid],
                edges=[ResolvedEdge(kind=e.kind, target=e.target) for e in n.edges if snapshot.visible(e.target, caller)],
                flags=scan_instructions(text, level),
            )
        )
    for nid in dropped:
        if since_version is None or nid not in unchanged:
            omitted.append(nid)
            omitted_tokens += _cost(snapshot, snapshot.nodes[nid], level)
    continuation = None
    if omitted:
        listed = sum(_cost(snapshot, snapshot.nodes[nid], level) for nid in omitted[:MAX_LISTED])
        continuation = Continuation(ids=omitted[:MAX_LISTED], level=level, token_budget=max(budget, listed))
    assertions = (
        _assertions(snapshot, [n.id for n in nodes], state, attempt, caller) if state is not None else []
    )
    return ResolveResult(
        level=level,
        nodes=nodes,
        total_tokens=used,
        not_found=not_found,
        omitted=omitted[:MAX_LISTED],
        omitted_count=len(omitted),
        omitted_tokens=omitted_tokens,
        continuation=continuation,
        token_budget=budget,
        unchanged=unchanged[:MAX_LISTED],
        unchanged_count=len(unchanged),
        changes=changes,
        assertions=assertions,
    )
