"""Hidden equals deleted, served from PostgreSQL: whatever a caller asks the document store, the answer
equals the answer over a store holding only the nodes that caller may see — and no hidden text appears.

The corpora, callers and call plans are those of the in-memory property test
(tests/tools/objectgraph/test_access.py); here each example is pushed into two real databases. Another
caller reads first, so the document list and listings the store caches per scope key are built for that
caller's key before the caller's own calls: a cache keyed too coarsely would hand the caller its listings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ogmux.tools.objectgraph.access import is_visible
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import build_snapshot
from ogmux.tools.objectgraph.listing import DocumentListing
from ogmux.tools.objectgraph.model import Document
from ogmux.tools.objectgraph.render import render_resolve, render_search
from ogmux.tools.objectgraph.store import DocumentStore, StoreView, push_snapshot
from tests.integration.engines import PostgresServer
from tests.integration.store_db import new_database
from tests.tools.objectgraph.test_access import (
    DOCS,
    _file,
    _visible_to,
    _without_hidden,
    call_plans,
    callers,
    corpora,
    marker,
    outcome,
    queries,
    restrict,
    sectioned_files,
)

CONFIG = ObjectGraphConfig(ranking="lexical", min_body_words=0)


@pytest.fixture(scope="module")
def stores(pg_cluster: PostgresServer) -> Iterator[tuple[str, DocumentStore, str, DocumentStore]]:
    full, visible = new_database(pg_cluster), new_database(pg_cluster)
    a, b = DocumentStore(full, reload_interval_s=0), DocumentStore(visible, reload_interval_s=0)
    try:
        yield full, a, visible, b
    finally:
        a.close()
        b.close()


def run_calls(
    view: StoreView, caller: frozenset[str], plan: dict[str, Any], config: ObjectGraphConfig = CONFIG
) -> list[tuple[str, Any]]:
    q, k, ids, kw, doc = plan["query"], plan["k"], plan["ids"], plan["resolve"], plan["doc"]
    hybrid = config.model_copy(update={"ranking": "hybrid"})
    out: list[tuple[str, Any]] = []
    page = outcome(lambda: view.search(q, k=k, scopes=caller, config=config))
    out.append(("search", page))
    cursor = page.get("next_cursor") if isinstance(page, dict) else None
    if cursor:
        out.append(("search-2", outcome(lambda: view.search(q, k=k, cursor=cursor, scopes=caller, config=config))))
    out.append(("search-text", outcome(lambda: render_search(view.search(q, k=k, scopes=caller, config=config)))))
    out.append(("search-hybrid", outcome(lambda: view.search(q, k=k, scopes=caller, config=hybrid))))
    out.append(("resolve", outcome(lambda: view.resolve(ids, scopes=caller, config=config, **kw))))
    out.append(("resolve-text", outcome(lambda: render_resolve(view.resolve(ids, scopes=caller, config=config, **kw)))))
    for ref in ids:
        out.append(("resolve-one", outcome(lambda ref=ref: view.resolve([ref], scopes=caller, config=config))))
        out.append(("node", outcome(lambda ref=ref: view.node_source(ref, caller))))
    out.append(("docs", outcome(lambda: view.documents(caller))))
    out.append(("doc", outcome(lambda: view.document_index(doc, caller))))
    out.append(("changelog", outcome(lambda: view.changelog(doc, caller))))
    for d in dict.fromkeys([doc, *DOCS]):
        out.append(("listing", outcome(lambda d=d: listing_reads(view.document_listing(d, caller)))))
    return out


def listing_reads(listed: DocumentListing) -> dict[str, Any]:
    """What og://doc pages and node-id completions read of a listing."""
    prefixes = ["", listed.entry.id, f"{listed.entry.id}#", f"{listed.entry.id}#n", f"{listed.entry.id}#n1"]
    return {
        "entry": listed.entry.model_dump(),
        "lines": [line.model_dump() for line in listed.lines()],
        "completions": {p: listed.ids_starting(p, 101) for p in prefixes},
        "pages": [listed.page_end(i, 30) for i in range(len(listed))],
        "warnings": [listed.row_warning(i) for i in range(len(listed))],
    }


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(docs=corpora(), caller=callers, other=callers, plans=st.lists(call_plans(), min_size=1, max_size=3))
def test_no_store_call_reveals_a_hidden_node(
    stores: tuple[str, DocumentStore, str, DocumentStore],
    docs: list[Document],
    caller: frozenset[str],
    other: frozenset[str],
    plans: list[dict[str, Any]],
) -> None:
    full_dsn, full_store, visible_dsn, visible_store = stores
    full, _ = build_snapshot(docs)
    only_visible, _ = build_snapshot(restrict(docs, caller))
    push_snapshot(full_dsn, full)
    push_snapshot(visible_dsn, only_visible)
    hidden = [marker(n.doc, n.node) for n in full.nodes.values() if not is_visible(n.scopes, caller)]
    for plan in plans:
        run_calls(StoreView(full_store), other, plan)  # fills the caches for the other caller's scope key
        got = run_calls(StoreView(full_store), caller, plan)
        assert got == run_calls(StoreView(visible_store), caller, plan)
        blob = repr(got).replace(plan["query"], "")  # the caller's own query is echoed back
        for mk in hidden:
            assert mk not in blob


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(file=sectioned_files(), caller=callers, other=callers, query=queries, merge=st.sampled_from([0, 350]))
def test_no_store_call_reveals_a_hidden_section_of_a_file(
    stores: tuple[str, DocumentStore, str, DocumentStore],
    file: tuple[Any, list[tuple[str, str, str]]],
    caller: frozenset[str],
    other: frozenset[str],
    query: list[str],
    merge: int,
) -> None:
    """The files of the in-memory file property test (generated ids, parents, heading paths, folded sections,
    inferred edges, changelogs with releases of several entries), pushed as written and with the caller's
    hidden sections deleted, under the served defaults (hybrid ranking, `min_body_words`): every store answer
    is the same."""
    from hypothesis import assume

    from ogmux.tools.objectgraph.errors import ObjectGraphSyntaxError
    from ogmux.tools.objectgraph.granularity import coarsen
    from ogmux.tools.objectgraph.parser import parse_document

    head, sections = file
    try:
        full_doc = coarsen(parse_document(_file(head, [t for t, _, _ in sections]), path="doc.og"), merge)
    except ObjectGraphSyntaxError:
        assume(False)  # a generated id colliding with a differently scoped node's id is refused
    visible = {n.id for n in full_doc.nodes if _visible_to(",".join(n.scopes), caller)}
    reduced = _file(_without_hidden(head, visible), [t for t, s, _ in sections if _visible_to(s, caller)])
    full_dsn, full_store, visible_dsn, visible_store = stores
    full, _ = build_snapshot([full_doc])
    push_snapshot(full_dsn, full)
    push_snapshot(visible_dsn, build_snapshot([coarsen(parse_document(reduced, path="doc.og"), merge)])[0])
    ids = [*full.nodes, "doc#setup", "doc#setup-2", "doc#deploy", "doc#intro-setup"][:6]
    plan = {
        "query": " ".join(query + ["setup", "deploy", "notes"]),
        "k": 3,
        "ids": ids,
        "resolve": {"level": "full", "follow": [":requires"], "depth": 1, "token_budget": None,
                    "since_version": "1.0", "state": None, "attempt": 1},
        "doc": "doc",
    }  # fmt: skip
    served = ObjectGraphConfig()
    run_calls(StoreView(full_store), other, plan, served)
    got = run_calls(StoreView(full_store), caller, plan, served)
    assert got == run_calls(StoreView(visible_store), caller, plan, served)
    blob = repr(got)
    for _, scopes, mk in sections:
        if not _visible_to(scopes, caller):
            assert mk not in blob
