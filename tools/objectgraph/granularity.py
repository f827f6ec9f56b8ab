"""Node granularity for serving: small plain-Markdown section trees become one node.

The parser makes one node per heading section and splits only where a heading or the size
limit (`max_node_tokens`) says so; that leaves fragments too small to answer anything on their
own (a "Day before" step of one line, a heading whose text is all in its subsections). At load,
`coarsen` folds every heading section whose whole subtree fits in `merge_tokens` (and is not
the whole document) into its section node: the node's Full level becomes the exact source of the section and its
subsections, and its keywords and dense summary are derived again from that text.

Only sections no `og:node` marker declares, with no declared or split node below them, are
folded (an author's nodes are never changed), and every folded node shares the document's
default scope, so no reader gains or loses text. Nodes that some reader of the default scope may
not see are left out of every decision (and of the folded text; they stay nodes of their own,
re-parented to the node that took their parent section in),
so what a reader is served is what it would be served if those nodes were deleted from the file. The `.og` format keeps one node per
heading, so folding happens when a corpus is served, not when a file is transpiled.
"""

from __future__ import annotations

from ogmux.tools.objectgraph.access import covers, effective_scopes
from ogmux.tools.objectgraph.metadata import fill_metadata
from ogmux.tools.objectgraph.model import Document, Node
from ogmux.tools.objectgraph.tokens import count_tokens

__all__ = ["coarsen"]


def coarsen(doc: Document, merge_tokens: int) -> Document:
    """`doc` with each undeclared heading section whose subtree has at most `merge_tokens` tokens as one node."""
    if merge_tokens <= 0:
        return doc
    by_id = doc.node_map()
    default = effective_scopes([doc.scope])
    hidden = {n.id for n in doc.nodes if not covers(effective_scopes(n.scopes), default)}
    kids: dict[str, list[str]] = {}
    for n in doc.nodes:
        if n.parent is not None and n.id not in hidden:
            kids.setdefault(n.parent, []).append(n.id)

    def subtree(nid: str) -> list[str]:
        out, todo = [], [nid]
        while todo:
            cur = todo.pop()
            out.append(cur)
            todo.extend(reversed(kids.get(cur, [])))
        return out

    def foldable(n: Node) -> bool:
        return not n.declared and 1 <= n.level <= 6 and n.scopes == [doc.scope]

    sections = sum(1 <= n.level <= 6 for n in doc.nodes if n.id not in hidden)
    owner: dict[str, str] = {}
    for n in doc.nodes:
        if n.id in owner or n.id in hidden or not kids.get(n.id) or not foldable(n):
            continue
        members = subtree(n.id)
        if len(members) >= sections or not all(foldable(by_id[m]) for m in members):
            continue  # a whole document never becomes one node
        if sum(count_tokens(by_id[m].full) for m in members) <= merge_tokens:
            for m in members[1:]:
                owner[m] = n.id
    if not owner:
        return doc
    groups: dict[str, list[str]] = {}
    for n in doc.nodes:
        groups.setdefault(owner.get(n.id, n.id), []).append(n.id)
    # A node left standing under a folded section (one hidden from some reader) now hangs from
    # the node that took that section in, so its parent exists and its heading path stays whole.
    parent = {
        n.id: owner.get(n.parent, n.parent) for n in doc.nodes if n.id not in owner and n.parent is not None
    }
    children: dict[str, list[str]] = {}
    for nid, pid in parent.items():
        children.setdefault(pid, []).append(nid)
    nodes = []
    for n in doc.nodes:
        if n.id in owner:
            continue
        update: dict[str, object] = {}
        if n.parent is not None and parent[n.id] != n.parent:
            update["parent"] = parent[n.id]
        members = groups[n.id]
        if len(members) > 1:
            update |= {
                "full": "".join(by_id[m].full for m in members),
                "children": children.get(n.id, []),
                "line_end": by_id[members[-1]].line_end,
                "tags": list(dict.fromkeys(t for m in members for t in by_id[m].tags)),
            }
            if n.derived_metadata:
                update |= {"keywords": [], "dense": ""}
        nodes.append(n.model_copy(update=update) if update else n)
    layout = [s for s in doc.layout if s.node_id not in owner]
    return fill_metadata(doc.model_copy(update={"nodes": nodes, "layout": layout}))
