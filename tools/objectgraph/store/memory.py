"""`CorpusView`: the query surface the tools call, and `MemoryView`, its implementation over a loaded snapshot.

`MemoryView` hands each call to the in-memory query functions; `StoreView` (`views.py`) answers the
same calls from the document store. This module never imports the store's database driver, so a
server that serves its corpus from memory does not load it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ogmux.tools.objectgraph import listing
from ogmux.tools.objectgraph.access import Scopes
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.listing import DocumentEntry, DocumentListing, IndexLine
from ogmux.tools.objectgraph.metadata import Complete
from ogmux.tools.objectgraph.resolve import ResolveResult, resolve_context
from ogmux.tools.objectgraph.search import SearchPage, search_index
from ogmux.tools.objectgraph.snapshot import Snapshot

__all__ = ["CorpusView", "MemoryView"]


class CorpusView(Protocol):
    """What the ObjectGraph tools and resources ask of a corpus, always for one caller's scopes."""

    def search(
        self,
        query: str,
        k: int = 8,
        cursor: str | None = None,
        scopes: Scopes | None = None,
        config: ObjectGraphConfig | None = None,
        complete: Complete | None = None,
    ) -> SearchPage: ...

    def resolve(self, ids: Sequence[str], scopes: Scopes | None = None, **options: Any) -> ResolveResult: ...

    def around(self, ids: Sequence[str], scopes: Scopes | None = None) -> Snapshot:
        """A snapshot holding (at least) the visible nodes `ids` name, their documents and the visible nodes
        their changelogs name."""

    def documents(self, scopes: Scopes | None = None) -> list[DocumentEntry]: ...

    def document_index(self, doc: str, scopes: Scopes | None = None) -> tuple[DocumentEntry, list[IndexLine]]: ...

    def document_listing(self, doc: str, scopes: Scopes | None = None) -> DocumentListing:
        """The document's index with its completions and pages (`listing.DocumentListing`)."""

    def node_source(self, ref: str, scopes: Scopes | None = None) -> str: ...

    def changelog(self, doc: str, scopes: Scopes | None = None) -> list[dict[str, object]]: ...


class MemoryView:
    """A loaded snapshot (the in-memory corpus)."""

    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot

    def search(self, query: str, k: int = 8, cursor: str | None = None, scopes: Scopes | None = None,
               config: ObjectGraphConfig | None = None, complete: Complete | None = None) -> SearchPage:  # fmt: skip
        return search_index(self.snapshot, query, k=k, cursor=cursor, scopes=scopes, config=config, complete=complete)

    def resolve(self, ids: Sequence[str], scopes: Scopes | None = None, **options: Any) -> ResolveResult:
        return resolve_context(self.snapshot, ids, scopes=scopes, **options)

    def around(self, ids: Sequence[str], scopes: Scopes | None = None) -> Snapshot:
        return self.snapshot

    def documents(self, scopes: Scopes | None = None) -> list[DocumentEntry]:
        return listing.list_documents(self.snapshot, scopes)

    def document_index(self, doc: str, scopes: Scopes | None = None) -> tuple[DocumentEntry, list[IndexLine]]:
        return listing.document_index(self.snapshot, doc, scopes)

    def document_listing(self, doc: str, scopes: Scopes | None = None) -> DocumentListing:
        return listing.document_listing(self.snapshot, doc, scopes)

    def node_source(self, ref: str, scopes: Scopes | None = None) -> str:
        return listing.node_source(self.snapshot, ref, scopes)

    def changelog(self, doc: str, scopes: Scopes | None = None) -> list[dict[str, object]]:
        return listing.document_changelog(self.snapshot, doc, scopes)
