"""Role-scoped access is leak-free: whatever a caller asks, the answer equals the answer over a corpus
from which every node the caller may not see has been deleted — and no hidden text ever appears.

The comparison covers search results and scores (BM25 statistics included), cursors and counts,
resolved nodes, edges, dependency closure, budgets, changelog deltas, assertion outcomes,
listings, rendered text and error messages (a hidden id must answer exactly like a missing one).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ogmux.tools.objectgraph.access import is_visible
from ogmux.tools.objectgraph.corpus import build_snapshot
from ogmux.tools.objectgraph.listing import document_changelog, document_index, list_documents, node_source
from ogmux.tools.objectgraph.model import Assertion, ChangelogEntry, Check, Document, Edge, Node
from ogmux.tools.objectgraph.render import render_resolve, render_search
from ogmux.tools.objectgraph.resolve import resolve_context
from ogmux.tools.objectgraph.search import search_index
from ogmux.tools.objectgraph.snapshot import Snapshot

WORDS = ["restart", "backup", "etcd", "quota", "token", "replica", "alarm", "disk", "leader", "proxy"]
SCOPES = ["public", "ops", "dev", "admin"]
KINDS = ["requires", "precedes", "see-also", "verifies", "supersedes"]
DOCS = ["alpha", "beta", "gamma"]


def marker(doc: str, node: str) -> str:
    return f"zq{doc}{node}x"


@st.composite
def corpora(draw: st.DrawFn) -> list[Document]:
    n_docs = draw(st.integers(1, 3))
    shape = {DOCS[d]: draw(st.integers(1, 5)) for d in range(n_docs)}
    refs = [(d, f"n{i}") for d, n in shape.items() for i in range(n)] + [("beta", "n9"), ("omega", "n0")]
    docs = []
    for d, n in shape.items():
        nodes = []
        for i in range(n):
            nid = f"n{i}"
            mk = marker(d, nid)
            words = " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=8)))
            edges = []
            for td, tn in draw(st.lists(st.sampled_from(refs), max_size=3, unique=True)):
                edges.append(Edge(kind=draw(st.sampled_from(KINDS)), target=f"{td}#{tn}"))
            assertion = None
            if draw(st.booleans()):
                td, tn = draw(st.sampled_from(refs))
                assertion = Assertion(
                    checks=[Check(path="x.y", op=draw(st.sampled_from(["eq", "gt", "exists"])), value=1)],
                    retries=draw(st.integers(0, 2)),
                    escalate_to=draw(st.sampled_from([None, "role:oncall", f"{td}#{tn}"])),
                )
            nodes.append(
                Node(
                    id=nid,
                    doc=d,
                    type="assertion" if assertion else draw(st.sampled_from(["concept", "steps", "warning"])),
                    title=f"{draw(st.sampled_from(WORDS))} {mk}",
                    scopes=draw(st.lists(st.sampled_from(SCOPES), min_size=1, max_size=2, unique=True)),
                    keywords=[mk, draw(st.sampled_from(WORDS))],
                    dense=f"{words} {mk}",
                    full=f"## {mk}\n\n{words} {mk}\n\n",
                    derived_metadata=False,
                    edges=edges,
                    assertion=assertion,
                    version=draw(st.sampled_from(["1.0", "1.1", "1.2"])),
                )
            )
        changelog = []
        for v in draw(st.lists(st.sampled_from(["1.1", "1.2", "1.3"]), max_size=3, unique=True)):
            changed = draw(st.lists(st.sampled_from([f"n{i}" for i in range(n)]), min_size=1, max_size=3, unique=True))
            changelog.append(
                ChangelogEntry(
                    version=v, date=dt.date(2026, 1, 1), changed=changed, summary="changed " + " ".join(marker(d, c) for c in changed)
                )
            )
        docs.append(Document(id=d, title=f"Doc {d}", version="1.3", nodes=nodes, changelog=changelog))
    return docs


def restrict(docs: list[Document], caller: frozenset[str]) -> list[Document]:
    """The same corpus with every node `caller` may not see deleted (edges and changelogs untouched)."""
    out = []
    for d in docs:
        keep = [n for n in d.nodes if is_visible(frozenset() if "public" in n.scopes else frozenset(n.scopes), caller)]
        out.append(d.model_copy(update={"nodes": keep}))
    return out


def outcome(call: Any) -> Any:
    try:
        result = call()
    except (LookupError, ValueError) as exc:
        return ("error", type(exc).__name__, str(exc))
    if isinstance(result, list):
        return [r.model_dump() if hasattr(r, "model_dump") else r for r in result]
    if isinstance(result, tuple):
        return [outcome(lambda r=r: r) for r in result]
    if hasattr(result, "model_dump"):
        return result.model_dump()
    return result


callers = st.one_of(
    st.just(frozenset({"*"})),
    st.frozensets(st.sampled_from(["ops", "dev", "admin", "other"]), max_size=2),
)
id_pool = st.sampled_from([f"{d}#n{i}" for d in DOCS for i in range(6)] + ["n0", "n3", "omega#n0", "alpha#zz"])
queries = st.lists(st.sampled_from(WORDS + [marker(d, f"n{i}") for d in DOCS for i in range(5)]), min_size=1, max_size=4)


@st.composite
def call_plans(draw: st.DrawFn) -> dict[str, Any]:
    """Arguments for one round of every query function (the same round is run on both corpora)."""
    return {
        "query": " ".join(draw(queries)),
        "k": draw(st.integers(1, 4)),
        "ids": draw(st.lists(id_pool, min_size=1, max_size=4)),
        "resolve": {
            "level": draw(st.sampled_from(["index", "dense", "full"])),
            "follow": draw(st.lists(st.sampled_from([":" + k for k in KINDS]), max_size=3)),
            "depth": draw(st.integers(0, 4)),
            "token_budget": draw(st.one_of(st.none(), st.integers(1, 60))),
            "since_version": draw(st.one_of(st.none(), st.sampled_from(["1.0", "1.1", "1.2"]))),
            "state": draw(st.one_of(st.none(), st.just({"x": {"y": 1}}), st.just({}))),
            "attempt": draw(st.integers(1, 3)),
        },
        "doc": draw(st.sampled_from([*DOCS, "omega"])),
    }


def run_calls(snap: Snapshot, caller: frozenset[str], plan: dict[str, Any]) -> list[tuple[str, Any]]:
    q, k, ids, kw, doc = plan["query"], plan["k"], plan["ids"], plan["resolve"], plan["doc"]
    out: list[tuple[str, Any]] = []
    page = outcome(lambda: search_index(snap, q, k=k, scopes=caller))
    out.append(("search", page))
    cursor = page.get("next_cursor") if isinstance(page, dict) else None
    if cursor:
        out.append(("search-2", outcome(lambda: search_index(snap, q, k=k, cursor=cursor, scopes=caller))))
    out.append(("search-text", outcome(lambda: render_search(search_index(snap, q, k=k, scopes=caller)))))
    out.append(("resolve", outcome(lambda: resolve_context(snap, ids, scopes=caller, **kw))))
    out.append(("resolve-text", outcome(lambda: render_resolve(resolve_context(snap, ids, scopes=caller, **kw)))))
    for ref in ids:
        out.append(("resolve-one", outcome(lambda ref=ref: resolve_context(snap, [ref], scopes=caller))))
        out.append(("node", outcome(lambda ref=ref: node_source(snap, ref, caller))))
    out.append(("docs", outcome(lambda: list_documents(snap, caller))))
    out.append(("doc", outcome(lambda: document_index(snap, doc, caller))))
    out.append(("changelog", outcome(lambda: document_changelog(snap, doc, caller))))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=corpora(), caller=callers, plans=st.lists(call_plans(), min_size=1, max_size=3))
def test_no_call_reveals_a_hidden_node(docs: list[Document], caller: frozenset[str], plans: list[dict[str, Any]]) -> None:
    full, _ = build_snapshot(docs)
    only_visible, _ = build_snapshot(restrict(docs, caller))
    hidden = [marker(n.doc, n.node) for n in full.nodes.values() if not is_visible(n.scopes, caller)]
    for plan in plans:
        got = run_calls(full, caller, plan)
        assert got == run_calls(only_visible, caller, plan)
        blob = repr(got).replace(plan["query"], "")  # the caller's own query is echoed back
        for mk in hidden:
            assert mk not in blob


def test_hidden_and_missing_ids_answer_alike() -> None:
    doc = Document(
        id="d",
        title="D",
        nodes=[
            Node(id="open", doc="d", title="Open", full="open\n", edges=[Edge(kind="requires", target="secret")]),
            Node(id="secret", doc="d", title="Secret", scopes=["admin"], full="secret\n"),
        ],
    )
    snap, _ = build_snapshot([doc])
    dev = frozenset({"dev"})
    for ref in ("d#secret", "d#absent"):
        with pytest.raises(LookupError) as exc:
            resolve_context(snap, [ref], scopes=dev)
        assert str(exc.value) == f"node not found: {ref!r}; search_index lists the ids you can resolve"
    res = resolve_context(snap, ["d#open"], depth=3, scopes=dev)
    assert [n.id for n in res.nodes] == ["d#open"] and res.nodes[0].edges == []
    admin = resolve_context(snap, ["d#open"], depth=3, scopes=frozenset({"admin"}))
    assert [n.id for n in admin.nodes] == ["d#secret", "d#open"]
    assert [n.id for n in resolve_context(snap, ["d#open"], depth=3).nodes] == ["d#secret", "d#open"]


def _derived_view(tmp_path, hidden_heading: str, hidden_body: str) -> tuple[Any, ...]:
    """What a public caller sees of a document whose H1 section and one subsection are admin-only."""
    from ogmux.tools.objectgraph.config import ObjectGraphConfig
    from ogmux.tools.objectgraph.corpus import Corpus

    text = (
        f"<!-- og:node id=top scopes=admin -->\n# {hidden_heading}\n\n{hidden_body}\n\n"
        "## Backups\n\nTake a backup of the disk every night and keep seven.\n\n"
        f"<!-- og:node id=inner scopes=admin -->\n### {hidden_heading} details\n\n{hidden_body}\n\n"
        "#### Restore\n\nCopy the backup back, then restart the replica.\n"
    )
    root = tmp_path / hidden_heading.split()[0]
    root.mkdir()
    (root / "manual.md").write_text(text, encoding="utf-8")
    snap = Corpus(root, ObjectGraphConfig(reload=False)).snapshot()
    public = frozenset({"public"})
    nodes = tuple(
        (r.id, r.title, r.keywords, r.dense, r.heading_path)
        for r in snap.nodes.values()
        if is_visible(r.scopes, public)
    )
    docs = tuple((d.id, d.title) for d in list_documents(snap, public))
    hits = tuple(e.id for e in search_index(snap, f"{hidden_heading} backup restore", k=10, scopes=public).entries)
    return nodes, docs, hits


def test_hidden_headings_leave_no_trace_in_titles_heading_paths_or_keywords(tmp_path) -> None:
    """Derived text (the document title from its first H1, heading paths, keyword statistics) only
    draws on nodes every reader of the derived text may see."""
    a = _derived_view(tmp_path, "Zeus launch codes", "Zeus zeus launch launch codes backup backup restore.")
    b = _derived_view(tmp_path, "Quiet garden notes", "Tulips and roses grow in spring beds.")
    assert a == b
    nodes, docs, _ = a
    assert docs == (("manual", "manual"),)  # the hidden H1 does not title the document
    assert "Zeus" not in repr(a)
    assert {n[0] for n in nodes} == {"manual#backups", "manual#restore"}


# --- ids, parents, titles and changelogs derived from files ------------------------------------------

TITLES = ["Setup", "Deploy", "Notes", "Intro", "Merger with Acme", "Setup {#setup}", "Deploy {#intro-setup}", "Prerequisites"]
MENTIONS = ["", " See Setup first.", " See [Deploy](#deploy).", " As described in Notes.", " Read [setup](#setup) too."]
EXPLICIT = ["setup", "deploy", "intro-setup", "merger-with-acme-deploy", "notes-2", "falcon"]
MARKED_SCOPES = ["public", "ops", "admin", "ops,admin"]


@st.composite
def sectioned_files(draw: st.DrawFn) -> tuple[Any, list[tuple[str, str, str]]]:
    """A document as ((default scope, version, changelog), [(section text, scopes, marker token)]).

    Sections are heading sections (marked or not) or headless marked nodes; an unmarked section
    has the document's default scope. Deleting a section deletes its marker and its text.
    """
    default = draw(st.sampled_from(["public", "ops"]))
    n = draw(st.integers(1, 7))
    ids = iter(draw(st.lists(st.sampled_from(EXPLICIT), min_size=n, max_size=n, unique=True)) if n <= len(EXPLICIT) else [])
    sections = []
    for i in range(n):
        mk = f"zqs{i}x"
        marked = draw(st.booleans())
        node_id = next(ids, None) if marked else None
        scopes = draw(st.sampled_from(MARKED_SCOPES)) if node_id else default
        headless = node_id is not None and draw(st.booleans())
        head = f"<!-- og:node id={node_id} scopes={scopes} -->\n" if node_id else ""
        body = f"{draw(st.sampled_from(WORDS))} {mk}.{draw(st.sampled_from(MENTIONS))}\n\n"
        if headless:
            text = f"{head}Text {body}"
        else:
            level = draw(st.integers(1, 4))
            body = draw(st.sampled_from([body, ""]))  # a heading without text of its own
            text = f"{head}{'#' * level} {draw(st.sampled_from(TITLES))}\n\n{body}"
        sections.append((text, scopes, mk))
    versions = ["1.1", "1.5", "2.0"]
    entries = []
    for v in draw(st.lists(st.sampled_from(versions), max_size=3)):  # a release may have several entries
        named = draw(st.lists(st.sampled_from(EXPLICIT + ["setup-2", "notes"]), max_size=2, unique=True))
        entries.append((v, named, f"changed {' '.join(named)}"))
    return (default, draw(st.sampled_from(versions)), entries), sections


def _file(head: tuple[str, str, list[tuple[str, list[str], str]]], sections: list[str]) -> str:
    default, version, entries = head
    text = f"<!-- og:meta id=doc version={version} scope={default} -->\n"
    if entries:
        lines = [f'version={v} date=2026-01-01 changed={",".join(ids)} summary="{summary}"\n' for v, ids, summary in entries]
        text += "<!-- og:changelog\n" + "".join(lines) + "-->\n"
    return text + "\n" + "".join(sections)


def _without_hidden(head: tuple[str, str, list[tuple[str, list[str], str]]], visible: set[str]) -> tuple[Any, ...]:
    """The manifest of the document with the hidden nodes removed: entries that changed only hidden nodes go,
    with their release when no other entry names it; the summary of an entry that also changed hidden nodes
    goes too."""
    default, version, entries = head
    kept, dropped = [], set()
    for v, ids, summary in entries:
        shown = [i for i in ids if i in visible]
        if ids and not shown:
            dropped.add(v)
        else:
            kept.append((v, shown, summary if shown == ids else ""))
    if version in dropped - {v for v, _, _ in kept}:
        version = max((v for v, _, _ in kept), key=lambda v: [int(x) for x in v.split(".")], default="0")
    return default, version, kept


def _visible_to(scopes: str, caller: frozenset[str]) -> bool:
    names = frozenset(scopes.split(","))
    return is_visible(frozenset() if "public" in names else names, caller)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(file=sectioned_files(), caller=callers, query=queries, merge=st.sampled_from([0, 350]))
def test_deleting_hidden_sections_from_the_file_changes_nothing_a_caller_sees(
    file: tuple[Any, list[tuple[str, str, str]]], caller: frozenset[str], query: list[str], merge: int
) -> None:
    """Ids generated from headings, parents, the document title and version, the changelog and the
    sections folded into one node (`merge` tokens) are the same whether or not the file holds sections
    the caller may not see."""
    from hypothesis import assume

    from ogmux.tools.objectgraph.errors import ObjectGraphSyntaxError
    from ogmux.tools.objectgraph.granularity import coarsen
    from ogmux.tools.objectgraph.parser import parse_document

    head, sections = file
    full_text = _file(head, [t for t, _, _ in sections])
    try:
        full_doc = coarsen(parse_document(full_text, path="doc.og"), merge)
    except ObjectGraphSyntaxError:
        assume(False)  # a generated id colliding with a differently scoped node's id is refused
    visible = {n.id for n in full_doc.nodes if _visible_to(",".join(n.scopes), caller)}
    reduced_text = _file(_without_hidden(head, visible), [t for t, s, _ in sections if _visible_to(s, caller)])
    full, _ = build_snapshot([full_doc])
    only_visible, _ = build_snapshot([coarsen(parse_document(reduced_text, path="doc.og"), merge)])
    ids = [*full.nodes, "doc#setup", "doc#setup-2", "doc#deploy", "doc#intro-setup", "doc#merger-with-acme-deploy"]
    plan = {
        "query": " ".join(query + ["setup", "deploy", "notes"]),
        "k": 3,
        "ids": ids[:6],
        "resolve": {"level": "full", "follow": [":requires"], "depth": 1, "token_budget": None,
                    "since_version": "1.0", "state": None, "attempt": 1},
        "doc": "doc",
    }
    got = run_calls(full, caller, plan)
    assert got == run_calls(only_visible, caller, plan)
    assert [
        (r.id, r.title, r.parent, r.heading_path) for r in full.nodes.values() if is_visible(r.scopes, caller)
    ] == [(r.id, r.title, r.parent, r.heading_path) for r in only_visible.nodes.values() if is_visible(r.scopes, caller)]
    blob = repr(got)
    for _, scopes, mk in sections:
        if not _visible_to(scopes, caller):
            assert mk not in blob


def test_public_ids_do_not_name_or_depend_on_hidden_nodes() -> None:
    """A public subsection under a hidden section takes its prefix from the nearest heading all its
    readers see, never from the hidden one."""
    from ogmux.tools.objectgraph.parser import parse_document

    text = (
        "# Guide\n\nText.\n\n## Deploy\n\nPublic deploy.\n\n"
        "<!-- og:node id=merger-with-acme scopes=admin -->\n## Merger with Acme\n\nSecret.\n\n### Deploy\n\nPublic too.\n"
    )
    doc = parse_document(text, path="delta.md")
    assert [n.id for n in doc.nodes if n.scopes == ["public"]] == ["guide", "deploy", "deploy-deploy"]
    without = parse_document(text.replace("<!-- og:node id=merger-with-acme scopes=admin -->\n## Merger with Acme\n\nSecret.\n\n", ""), path="delta.md")
    assert [(n.id, n.parent) for n in without.nodes] == [(n.id, n.parent) for n in doc.nodes if n.scopes == ["public"]]


def test_a_generated_id_equal_to_a_hidden_nodes_id_is_a_located_error() -> None:
    from ogmux.tools.objectgraph.errors import ObjectGraphSyntaxError
    from ogmux.tools.objectgraph.parser import parse_document

    text = "# Intro\n\nText.\n\n<!-- og:node id=setup scopes=admin -->\n## Hidden\n\nSecret.\n\n## Setup\n\nPublic.\n"
    with pytest.raises(ObjectGraphSyntaxError, match="also the id of the node on line 5") as exc:
        parse_document(text, path="delta.md")
    assert (exc.value.line, exc.value.column) == (10, 1)


def test_changelog_and_version_leave_out_releases_of_hidden_nodes() -> None:
    from ogmux.tools.objectgraph.parser import parse_document

    text = (
        "<!-- og:meta id=delta version=2.0 -->\n<!-- og:changelog\n"
        'version=1.5 date=2026-01-01 changed=intro,falcon summary="Falcon budget doubled."\n'
        'version=2.0 date=2026-02-01 changed=falcon summary="Falcon closes in May."\n-->\n\n'
        "# Intro\n\nWelcome.\n\n<!-- og:node id=falcon scopes=admin -->\n## Falcon\n\nSecret.\n"
    )
    snap, _ = build_snapshot([parse_document(text, path="delta.og")])
    reader = frozenset({"public"})
    assert document_changelog(snap, "delta", reader) == [{"version": "1.5", "date": "2026-01-01", "changed": ["delta#intro"]}]
    res = resolve_context(snap, ["delta#intro"], since_version="1.0", scopes=reader)
    assert res.changes[0].version == "1.5" and res.nodes[0].doc_version == "1.5" and res.nodes[0].version == "1.5"
    assert [d.version for d in list_documents(snap, reader)] == ["1.5"]
    assert "falcon" not in repr(res).lower() and "2.0" not in render_resolve(res)
    assert search_index(snap, "welcome", scopes=reader).entries[0].version == "1.5"
    assert [d.version for d in list_documents(snap, frozenset({"admin"}))] == ["2.0"]


def test_a_release_with_a_visible_entry_stays_shown_beside_an_entry_of_hidden_nodes() -> None:
    """Release 2.0 has one entry for a hidden node and one for a public node. A reader saw neither, and the
    document at version 0, while the same file without the hidden node (and its entry) shows 2.0 and the
    public entry: adding a hidden node to a release took the release away from readers."""
    from ogmux.tools.objectgraph.parser import parse_document

    def text(hidden: str, entries: str) -> str:
        head = "<!-- og:meta id=delta version=2.0 -->\n<!-- og:changelog\n" + entries + "-->\n\n"
        return head + "# Intro\n\nWelcome.\n\n" + hidden

    public = 'version=2.0 date=2026-02-02 changed=intro summary="Intro reworded."\n'
    hidden_entry = 'version=2.0 date=2026-02-01 changed=falcon summary="Falcon closes in May."\n'
    hidden = "<!-- og:node id=falcon scopes=admin -->\n## Falcon\n\nSecret.\n"
    reader = frozenset({"public"})
    views = []
    for t in (text(hidden, hidden_entry + public), text("", public)):
        snap, _ = build_snapshot([parse_document(t, path="delta.og")])
        res = resolve_context(snap, ["delta#intro"], since_version="1.0", scopes=reader)
        views.append((document_changelog(snap, "delta", reader), list_documents(snap, reader), res))
    assert views[0] == views[1]
    assert [d.version for d in views[0][1]] == ["2.0"]
    assert "falcon" not in repr(views[0]).lower()


completion_prefixes = st.sampled_from(["", "a", "alpha", "alpha#", "alpha#n", "alpha%23n", "beta#n1", "g", "omega#", "n"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=corpora(), caller=callers, prefixes=st.lists(completion_prefixes, min_size=1, max_size=4))
def test_completions_offer_only_what_the_caller_may_read(
    docs: list[Document], caller: frozenset[str], prefixes: list[str]
) -> None:
    """MCP completions of document and node ids (og:// resources): the same on the full corpus as on the
    corpus without the nodes the caller may not see, and never a hidden id."""
    from ogmux.server.mcp_resources.objectgraph import doc_ids, node_ids
    from ogmux.tools.objectgraph.store import MemoryView

    full, only_visible = (MemoryView(build_snapshot(d)[0]) for d in (docs, restrict(docs, caller)))
    hidden = {nid for nid, n in full.snapshot.nodes.items() if not is_visible(n.scopes, caller)}
    for prefix in prefixes:
        for complete in (doc_ids, node_ids):
            got = complete(full, caller, prefix)
            assert got == complete(only_visible, caller, prefix)
            assert not hidden & set(got)
