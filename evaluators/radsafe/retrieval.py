"""The retrieval conditions over an ObjectGraph corpus (search_index / resolve_context).

Document text reaches the model under evaluation as it reaches any model: each piece inside its own
data fence (`untrusted.fence`), labelled with the node id, so a section cannot end the context or
forge the question that follows it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ogmux.tools.objectgraph.access import is_visible
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import Corpus
from ogmux.tools.objectgraph.resolve import resolve_context
from ogmux.tools.objectgraph.search import search_index
from ogmux.tools.objectgraph.tokens import count_tokens
from ogmux.tools.objectgraph.untrusted import fence

__all__ = ["ObjectGraphRetriever"]


class ObjectGraphRetriever:
    """A `Retriever` over a corpus, seen with the document `scopes` of one role."""

    def __init__(self, corpus: Corpus, scopes: Sequence[str] = ("*",), config: ObjectGraphConfig | None = None):
        self.corpus = corpus
        self.scopes = set(scopes)
        self.config = config or corpus.config

    def search(self, query: str, k: int) -> list[tuple[str, str]]:
        page = search_index(self.corpus.snapshot(), query, k=k, scopes=self.scopes, config=self.config)
        return [(e.id, fence(f"{e.title}: {e.summary}", e.id)) for e in page.entries]

    def read(self, ids: Sequence[str], token_budget: int) -> str:
        try:
            res = resolve_context(self.corpus.snapshot(), list(ids), level="full", depth=0, token_budget=token_budget,
                                  scopes=self.scopes, config=self.config)
        except (LookupError, ValueError) as exc:
            return f"(nothing to read: {exc})"
        return "\n\n".join(fence(n.text, n.id) for n in res.nodes)

    def everything(self, token_budget: int) -> str:
        snap = self.corpus.snapshot()
        caller = frozenset(self.scopes)
        visible = [n for n in snap.nodes.values() if is_visible(n.scopes, caller)]  # corpus order
        parts, used = [], 0
        for n in visible:
            text = fence(n.full, n.id)
            cost = count_tokens(text)
            if used + cost > token_budget:
                break
            parts.append(text)
            used += cost
        return "\n\n".join(parts)
