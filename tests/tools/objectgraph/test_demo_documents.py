"""The bundled demo documents (ogmux/demo/corpus) parse, round-trip and use every format feature."""

import pytest

from ogmux.demo import CORPUS
from ogmux.tools.objectgraph.model import EDGE_KINDS, parse_ref, version_key
from ogmux.tools.objectgraph.parser import load_path
from ogmux.tools.objectgraph.writer import render_document

FILES = sorted(p for p in CORPUS.iterdir() if p.suffix in (".og", ".md"))


@pytest.fixture(scope="module")
def docs():
    return {d.id: d for d in (load_path(p) for p in FILES)}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_document_round_trips(path):
    with path.open(encoding="utf-8", newline="") as fh:
        text = fh.read()
    assert render_document(load_path(path)) == text


def test_demo_uses_every_feature(docs):
    assert len(docs) >= 3 and any(p.suffix == ".md" for p in FILES)
    nodes = [n for d in docs.values() for n in d.nodes]
    assert {s for n in nodes for s in n.scopes} == {"public", "ops"}
    assert {e.kind for n in nodes for e in n.edges} == set(EDGE_KINDS)
    assert any("#" in e.target for n in nodes for e in n.edges)
    assertions = [n for n in nodes if n.assertion is not None]
    assert assertions and all(a.assertion.retries >= 1 and a.assertion.escalate_to for a in assertions)
    og_docs = [d for d in docs.values() if d.path.endswith(".og")]
    assert all(d.changelog for d in og_docs)
    assert any(not n.derived_metadata for n in nodes) and any(n.derived_metadata for n in nodes)


def test_every_reference_resolves(docs):
    known = {(d.id, n.id) for d in docs.values() for n in d.nodes}
    for doc in docs.values():
        for node in doc.nodes:
            for edge in node.edges:
                assert edge.resolve(doc.id) in known, f"{doc.id}#{node.id} -> {edge.target}"
            if node.assertion and not node.assertion.escalate_to.startswith("role:"):
                assert parse_ref(node.assertion.escalate_to, doc.id) in known
        for entry in doc.changelog:
            assert all((doc.id, nid) in known for nid in entry.changed)
            assert version_key(entry.version) <= version_key(doc.version)
        assert [e.version for e in doc.changelog][-1:] in ([], [doc.version])


def test_requires_edges_are_acyclic(docs):
    graph = {
        (d.id, n.id): [e.resolve(d.id) for e in n.edges_of("requires")]
        for d in docs.values()
        for n in d.nodes
    }
    state: dict = {}

    def visit(key):
        assert state.get(key) != "open", f"cycle through {key}"
        if state.get(key) == "done":
            return
        state[key] = "open"
        for nxt in graph[key]:
            visit(nxt)
        state[key] = "done"

    for key in graph:
        visit(key)
