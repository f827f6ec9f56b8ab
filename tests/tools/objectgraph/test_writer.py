"""The writer: verbatim for unchanged blocks, canonical for changed ones, and a lossless annotated layout."""

from ogmux.demo import CORPUS
from ogmux.tools.objectgraph.model import Edge, Node
from ogmux.tools.objectgraph.parser import load_path, parse_document
from ogmux.tools.objectgraph.writer import render_document, with_og_layout

SRC = """<!-- og:meta   id=doc   title="Odd   spacing" -->

<!-- og:node id=a   type=concept  scopes=ops -->
# A

Text of A.

<!-- og:node id=b type=steps
:requires   a
-->
## B

1. one
"""


def _semantics(doc):
    return [
        (
            n.id,
            n.type,
            n.title,
            n.scopes,
            n.confidence,
            n.version,
            n.tags,
            n.edges,
            n.assertion,
            n.keywords,
            n.dense,
            n.parent,
            n.children,
            n.full,
        )
        for n in doc.nodes
    ]


def test_only_the_changed_marker_is_rewritten():
    doc = parse_document(SRC)
    nodes = [n.model_copy(update={"scopes": ["public", "ops"]}) if n.id == "a" else n for n in doc.nodes]
    text = render_document(doc.model_copy(update={"nodes": nodes}))
    assert '<!-- og:meta   id=doc   title="Odd   spacing" -->\n\n' in text  # untouched, verbatim
    assert "<!-- og:node id=a type=concept scopes=public,ops -->\n# A\n" in text
    assert "<!-- og:node id=b type=steps\n:requires   a\n-->\n" in text
    assert parse_document(text).get("a").scopes == ["public", "ops"]


def test_added_and_removed_nodes():
    doc = parse_document(SRC)
    extra = Node(
        id="c",
        doc="doc",
        type="warning",
        title="C",
        heading="C",
        level=2,
        scopes=["ops"],
        edges=[Edge(kind="see-also", target="other#x")],
        full="## C\n\nCareful.\n",
    )
    text = render_document(doc.model_copy(update={"nodes": [doc.nodes[0], extra]}))
    again = parse_document(text)
    assert [n.id for n in again.nodes] == ["a", "c"]
    assert again.get("c").edges == extra.edges and again.get("c").type == "warning"
    assert "## B" not in text and ":requires" not in text


def test_annotated_layout_of_a_full_featured_document_keeps_its_meaning():
    for path in sorted(CORPUS.glob("*.og")):
        doc = load_path(path)
        declared = doc.model_copy(
            update={"nodes": [n.model_copy(update={"derived_metadata": False}) for n in doc.nodes]}
        )
        again = parse_document(render_document(with_og_layout(declared)))
        assert (again.id, again.title, again.version, again.scope, again.changelog) == (
            doc.id,
            doc.title,
            doc.version,
            doc.scope,
            doc.changelog,
        )
        assert _semantics(again) == _semantics(doc)
