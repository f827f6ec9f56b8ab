"""Parsing `.og` and plain `.md`: manifest, markers, edges, assertions, errors, sections, ids, splitting."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ogmux.tools.objectgraph.errors import ObjectGraphSyntaxError
from ogmux.tools.objectgraph.parser import load_path, parse_document, slugify
from ogmux.tools.objectgraph.writer import render_document

OG = """<!-- og:meta id=runbook title="ogmux runbook" version=1.2 scope=ops -->
<!-- og:index
restart title=Restart scopes=ops,public keywords="restart, drain" dense="Drain, stop, start, then verify."
-->
<!-- og:changelog
version=1.1 date=2026-10-01 changed=restart summary="Drain before stopping."
version=1.2 date=2026-11-01 changed=health-check,restart summary="Health assertion added."
-->

# ogmux runbook

Intro text.

<!-- og:node id=restart type=steps scopes=ops,public confidence=0.9 version=1.1 tags=steps
:requires config#server-port
:precedes health-check
-->
## Restart

1. Drain.
2. Stop.

<!-- og:node id=health-check type=assertion scopes=ops retries=2 escalate=role:oncall
:verifies restart
check: health.status eq "ok"
check: queue.depth lt 100
check: server.version exists
-->
The service must report healthy after a restart.

## Notes

Plain section.
"""


def test_og_manifest_and_nodes():
    doc = parse_document(OG)
    assert (doc.id, doc.title, doc.version, doc.scope) == ("runbook", "ogmux runbook", "1.2", "ops")
    assert [n.id for n in doc.nodes] == ["ogmux-runbook", "restart", "health-check", "notes"]
    assert [e.version for e in doc.changelog] == ["1.1", "1.2"]
    assert doc.changelog[1].changed == ["health-check", "restart"]
    assert doc.changelog[0].date == dt.date(2026, 10, 1)
    restart = doc.get("restart")
    assert restart.scopes == ["ops", "public"] and restart.confidence == 0.9 and restart.version == "1.1"
    assert restart.type == "steps" and restart.tags == ["steps"]
    assert [(e.kind, e.target) for e in restart.edges] == [
        ("requires", "config#server-port"),
        ("precedes", "health-check"),
    ]
    assert restart.edges[0].resolve(doc.id) == ("config", "server-port")
    assert restart.keywords == ["restart", "drain"] and restart.dense.startswith("Drain, stop")
    assert not restart.derived_metadata
    assert restart.full == "## Restart\n\n1. Drain.\n2. Stop.\n\n"
    # the ops-only H1 is not the parent of a public section: parents are headings all its readers see
    assert restart.parent is None and restart.children == ["health-check"]
    check = doc.get("health-check")
    assert check.type == "assertion" and check.scopes == ["ops"] and check.parent == "restart"
    assert check.assertion.retries == 2 and check.assertion.escalate_to == "role:oncall"
    assert [(c.path, c.op, c.value) for c in check.assertion.checks] == [
        ("health.status", "eq", "ok"),
        ("queue.depth", "lt", 100),
        ("server.version", "exists", None),
    ]
    assert check.full == "The service must report healthy after a restart.\n\n"
    notes = doc.get("notes")
    assert notes.scopes == ["ops"] and notes.version == "1.2" and notes.dense  # defaults + derived metadata
    assert render_document(doc) == OG


def test_changed_metadata_is_rerendered_and_reparses():
    doc = parse_document(OG)
    nodes = [
        n.model_copy(update={"dense": "New summary --> with arrow"}) if n.id == "restart" else n
        for n in doc.nodes
    ]
    text = render_document(doc.model_copy(update={"nodes": nodes}))
    assert text != OG and text.count("<!-- og:") == OG.count("<!-- og:")
    again = parse_document(text)
    assert again.get("restart").dense == "New summary --> with arrow"
    assert again.body() == doc.body()


def _err(src: str) -> ObjectGraphSyntaxError:
    with pytest.raises(ObjectGraphSyntaxError) as info:
        parse_document(src, path="bad.og")
    return info.value


@pytest.mark.parametrize(
    ("src", "line", "column", "needle"),
    [
        ("# A\n<!-- og:nodes id=x -->\nx\n", 2, 9, "unknown block og:nodes"),
        ("<!-- og:node type=concept -->\n# A\n", 1, 1, "needs an id"),
        ("<!-- og:node id=x type=thing -->\n# A\n", 1, 19, "unknown node type"),
        ("<!-- og:node id=x colour=red -->\n# A\n", 1, 19, "unknown attribute 'colour'"),
        ("<!-- og:node id=x\n:depends y\n-->\n# A\n", 2, 1, "unknown edge kind"),
        ("<!-- og:node id=x\n:requires bad#id#z\n-->\n# A\n", 2, 11, "invalid edge target"),
        ("<!-- og:node id=x type=assertion\ncheck: a.b approx 1\n-->\n# A\n", 2, 1, "unknown check operator"),
        ("<!-- og:node id=x type=assertion\ncheck: a.b eq ok\n-->\n# A\n", 2, 1, "not JSON"),
        ("<!-- og:node id=x type=assertion -->\n# A\n", 1, 1, "without checks"),
        ("<!-- og:node id=x retries=2 -->\n# A\n", 1, 19, "only allowed on assertion"),
        ("<!-- og:node id=x -->\n", 1, 1, "not followed by content"),
        ("<!-- og:node id=x -->\n# A\n<!-- og:node id=x -->\n# B\n", 3, 1, "duplicate node id"),
        ("<!-- og:node id=x confidence=2 -->\n# A\n", 1, 19, "confidence"),
        ("<!-- og:node id=x\n# A\n", 1, 1, "not closed"),
        ("<!-- og:meta id=d --> trailing\n# A\n", 1, 23, "text after -->"),
        ("<!-- og:index\nnope keywords=a\n-->\n# A\n", 2, 1, "unknown node 'nope'"),
        ("<!-- og:changelog\nversion=1 date=2026-13-01\n-->\n# A\n", 2, 11, "YYYY-MM-DD"),
        ("<!-- og:meta id=a -->\n<!-- og:meta id=b -->\n# A\n", 2, 1, "second og:meta"),
        ('<!-- og:meta id="bad id" -->\n# A\n', 1, 14, "invalid document id"),
        ("# A\n<!-- og:meta id=a -->\ntext\n", 2, 1, "og:meta after the first node"),
        ("text\n\n<!-- og:index\n-->\n# A\n", 3, 1, "og:index after the first node"),
        ('<!-- og:node id=x title="unterminated -->\n# A\n', 1, 19, "expected key=value"),
    ],
)
def test_errors_carry_location_and_hint(src, line, column, needle):
    err = _err(src)
    assert needle in err.message
    assert (err.path, err.line, err.column) == ("bad.og", line, column)
    assert err.hint
    assert str(err).startswith(f"bad.og:{line}:{column}: ")
    assert isinstance(err, ValueError)


MD = """---
name: demo-skill
description: A demo.
---

Lead paragraph before any heading.

# Guide

Intro.

## Install

Run `pip install ogmux`.

### Linux

Use apt.

## Usage

```sh
ogmux serve
# Not a heading
<!-- og:node id=fake -->
```

## Install

Second install section.

# Appendix

## Usage

Appendix usage.
"""


def test_plain_markdown_is_a_section_graph():
    doc = parse_document(MD, path="docs/demo.md")
    ids = [n.id for n in doc.nodes]
    assert ids == [
        "preamble",
        "guide",
        "install",
        "linux",
        "usage",
        "guide-install",
        "appendix",
        "appendix-usage",
    ]
    assert doc.id == "demo" and doc.title == "Guide"
    by = doc.node_map()
    assert by["preamble"].full.startswith("---\nname: demo-skill") and by["preamble"].type == "overview"
    assert by["guide"].children == ["install", "usage", "guide-install"]
    assert by["install"].children == ["linux"] and by["linux"].parent == "install"
    assert by["usage"].type == "code" and "<!-- og:node id=fake -->" in by["usage"].full
    assert by["appendix-usage"].parent == "appendix"
    assert (by["linux"].line_start, by["linux"].line_end) == (16, 18)
    assert doc.body() == MD and render_document(doc) == MD
    assert all(n.dense and n.keywords and n.derived_metadata for n in doc.nodes)


def test_ids_do_not_move_when_unrelated_text_changes():
    before = [n.id for n in parse_document(MD).nodes]
    edited = MD.replace("Use apt.", "Use apt, or build from source with a much longer explanation.\n\nMore.")
    edited = edited.replace("Intro.", "## Intro heading added\n\nIntro.")
    after = [n.id for n in parse_document(edited).nodes]
    assert [i for i in after if i != "intro-heading-added"] == before


def test_front_matter_name_is_the_title_without_h1():
    doc = parse_document("---\nname: my-skill\n---\n\n## Step\n\nDo it.\n")
    assert doc.title == "my-skill" and [n.id for n in doc.nodes] == ["preamble", "step"]


def test_oversized_sections_split_at_block_boundaries():
    paras = "\n\n".join(f"Paragraph {i} " + "word " * 40 for i in range(6))
    items = "\n".join(f"{i}. step " + "x " * 30 for i in range(1, 7))
    src = f"# Big\n\n{paras}\n\n{items}\n\n```\n" + "code\n" * 50 + "```\n\n# Small\n\nTiny.\n"
    doc = parse_document(src, max_node_tokens=100)
    big = doc.get("big")
    parts = [n for n in doc.nodes if n.id.startswith("big-part-")]
    assert len(parts) >= 4 and big.children == [p.id for p in parts]
    assert all(p.parent == "big" and p.title.startswith("Big (part") for p in parts)
    assert doc.body() == src and render_document(doc) == src
    for node in [big, *parts]:
        assert node.full.startswith(("# Big", "Paragraph", "1.", "2.", "3.", "4.", "5.", "6.", "```"))
    assert any(p.full.startswith("```") and p.type == "code" for p in parts)  # the fence stays whole
    assert [n.id for n in parse_document(src, max_node_tokens=None).nodes] == ["big", "small"]


def test_a_lead_in_paragraph_stays_with_the_block_it_introduces():
    filler = "\n\n".join(f"Paragraph {i} " + "word " * 30 for i in range(3))
    code = "```sh\n" + "etcdctl snapshot save backup.db\n" * 4 + "```\n"
    src = f"# Big\n\n{filler}\n\nTake a snapshot first:\n\n{code}\nThen restore it.\n"
    doc = parse_document(src, max_node_tokens=60)
    holder = next(n for n in doc.nodes if "Take a snapshot first:" in n.full)
    assert "etcdctl snapshot save" in holder.full and len(doc.nodes) >= 3
    assert doc.body() == src and render_document(doc) == src
    plain = src.replace("Take a snapshot first:", "Take a snapshot first.")
    holder = next(
        n for n in parse_document(plain, max_node_tokens=60).nodes if "Take a snapshot first." in n.full
    )
    assert "etcdctl" not in holder.full  # without the colon the code block may start a new node


def test_slugify():
    assert slugify("Behind a Proxy { #behind-a-proxy }") == "behind-a-proxy-behind-a-proxy"
    assert slugify("Ünïcode — ok?") == "unicode-ok"
    assert slugify("!!!") == "section"
    assert len(slugify("x" * 200)) == 64


def test_load_path_keeps_crlf(tmp_path):
    src = "# A\r\n\r\ntext\r\n\r\n## B\r\nmore\r\n"
    path = tmp_path / "crlf-doc.md"
    path.write_bytes(src.encode())
    doc = load_path(path)
    assert doc.id == "crlf-doc" and [n.id for n in doc.nodes] == ["a", "b"]
    assert render_document(doc) == src and doc.get("b").full == "## B\r\nmore\r\n"


_HEADINGS = st.sampled_from(
    ["Install", "Usage", "Install", "FAQ", "Ünïcode title", "API `v2`", "!!!", "Notes"]
)
_BODY = st.lists(st.text(alphabet="abc xyz.,-1", min_size=1, max_size=60), max_size=4).map(
    lambda ps: "\n\n".join(p.replace("#", "") for p in ps)
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 3), _HEADINGS, _BODY), min_size=1, max_size=10),
    st.data(),
    st.sampled_from([None, 24]),
)
def test_section_ids_are_stable_under_unrelated_text_edits(sections, data, max_tokens):
    def build(secs):
        return "".join(f"{'#' * lvl} {title}\n\n{body}\n\n" for lvl, title, body in secs)

    j = data.draw(st.integers(0, len(sections) - 1))
    edited = list(sections)
    edited[j] = (sections[j][0], sections[j][1], data.draw(_BODY))

    def heading_ids(text):
        return [
            n.id
            for n in parse_document(text, max_node_tokens=max_tokens, metadata=False).nodes
            if n.heading is not None
        ]

    assert heading_ids(build(sections)) == heading_ids(build(edited))


def test_byte_order_mark_is_kept_but_not_content():
    src = "\ufeff<!-- og:meta id=bom-doc -->\n# Title\n\ntext\n"
    doc = parse_document(src)
    assert doc.id == "bom-doc" and doc.nodes[0].full == "# Title\n\ntext\n"
    assert render_document(doc) == src


def test_format_version_is_checked():
    assert parse_document("<!-- og:meta id=d format=1.3 -->\n# A\n").format == "1.3"
    assert parse_document("# A\n").format == "1.0"
    for bad in ("2.0", "one"):
        with pytest.raises(ObjectGraphSyntaxError) as info:
            parse_document(f"<!-- og:meta id=d format={bad} -->\n# A\n")
        assert "unsupported ObjectGraph format" in info.value.message and info.value.column == 19


def test_non_utf8_file_is_a_located_error(tmp_path):
    path = tmp_path / "latin1.md"
    path.write_bytes("# Title\n\ncaf\xe9 ok\n".encode("latin-1"))
    with pytest.raises(ObjectGraphSyntaxError) as info:
        load_path(path)
    assert (info.value.line, info.value.column) == (3, 4) and "UTF-8" in info.value.hint


def test_explicit_heading_anchor_names_the_node():
    src = "# Behind a Proxy { #behind-a-proxy }\n\nx\n\n## Sub {#custom-id .cls}\n\n## <a name='z'></a>Plain **bold**\n"
    doc = parse_document(src)
    assert [(n.id, n.title) for n in doc.nodes] == [
        ("behind-a-proxy", "Behind a Proxy"),
        ("custom-id", "Sub"),
        ("plain-bold", "Plain bold"),
    ]
    assert render_document(doc) == src


def test_many_identical_headings_get_numbered_ids():
    doc = parse_document("## Notes\n\n" + "#\n" * 3000, metadata=False)
    ids = [n.id for n in doc.nodes]
    assert len(set(ids)) == len(ids) == 3001
    assert ids[:3] == ["notes", "section", "section-2"] and ids[-1] == "section-3000"


def test_edges_per_node_are_bounded() -> None:
    """Edges are listed with every resolved node but never counted against its token budget: a node with
    :see-also to 2,000 sections returned 19,000 tokens under token_budget=10. Authored edges beyond
    MAX_EDGES are a located error; inferred ones stop at the bound."""
    from ogmux.tools.objectgraph.inference import inferred_edges
    from ogmux.tools.objectgraph.syntax import MAX_EDGES

    sections = "".join(f"## Section {i}\n\nt\n\n" for i in range(MAX_EDGES + 10))
    ids = [f"section-{i}" for i in range(MAX_EDGES + 1)]
    ok = f"<!-- og:node id=hub\n:see-also {', '.join(ids[:-1])}\n-->\n# Hub\n\nHub.\n\n{sections}"
    assert len(parse_document(ok, path="f.og", metadata=False).nodes[0].edges) == MAX_EDGES
    over = f"<!-- og:node id=hub\n:see-also {', '.join(ids[:3])}\n:requires {', '.join(ids[3:])}\n-->\n# Hub\n\n{sections}"
    with pytest.raises(ObjectGraphSyntaxError) as exc:
        parse_document(over, path="f.og", metadata=False)
    assert (exc.value.line, exc.value.column) == (3, 1) and f"more than {MAX_EDGES} edges" in exc.value.message
    links = "# Hub\n\n" + " ".join(f"[s{i}](#section-{i})" for i in range(MAX_EDGES + 10)) + f"\n\n{sections}"
    doc = parse_document(links, path="f.og", metadata=False)
    assert len(inferred_edges(doc)["hub"]) == MAX_EDGES


def test_titles_are_cut_to_max_title_characters() -> None:
    """Titles are shown with every search result and listing, outside any token budget: a 900 KB heading
    made one search page (k=5) 1.8 MB. Headings, title= attributes and the document title are cut."""
    from ogmux.tools.objectgraph.parser import MAX_TITLE

    long = "vault " * 150_000
    doc = parse_document(f"# {long}\n\nBody.\n\n<!-- og:node id=x title=\"{'k' * 4000}\" -->\n## X\n\nx\n", path="f.md")
    assert {len(n.title) for n in doc.nodes} == {MAX_TITLE} and len(doc.title) == MAX_TITLE
    assert doc.nodes[0].title.startswith("vault vault") and doc.nodes[0].title.endswith("…")
    indexed = f"<!-- og:index\nx title=\"{'k' * 4000}\"\n-->\n<!-- og:node id=x -->\n# {'k' * 4000}\n\nx\n"
    assert parse_document(indexed, path="f.og").nodes[0].title == "k" * (MAX_TITLE - 1) + "…"
