"""Byte-for-byte round trip: rendering an unchanged parsed document reproduces its source."""

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ogmux.tools.objectgraph.errors import ObjectGraphSyntaxError
from ogmux.tools.objectgraph.parser import parse_document
from ogmux.tools.objectgraph.writer import render_document, with_og_layout

_words = st.text(alphabet="abcdefgh XYZ*_`#<>!-=.:[]()\\\"'|&é中", min_size=0, max_size=30)
_ids = st.sampled_from(["a", "b", "c", "setup", "x.y", "n-1"])
_nl = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def _marker(draw):
    node_id = draw(_ids)
    kind = draw(st.sampled_from(["concept", "steps", "warning", "assertion"]))
    head = f"<!-- og:node id={node_id} type={kind}"
    if draw(st.booleans()):
        head += " scopes=" + ",".join(
            draw(st.lists(st.sampled_from(["public", "ops", "dev"]), min_size=1, max_size=2, unique=True))
        )
    if draw(st.booleans()):
        head += f" confidence={draw(st.floats(0, 1, allow_nan=False)):.3f}"
    lines = [
        f":{draw(st.sampled_from(['requires', 'see-also', 'precedes']))} {draw(_ids)}, doc#{draw(_ids)}"
        for _ in range(draw(st.integers(0, 2)))
    ]
    if kind == "assertion":
        head += f" retries={draw(st.integers(0, 5))}"
        check = draw(st.sampled_from(["eq 1", "in [1, 2]", "exists", 'matches "^a"']))
        lines.append(f"check: state.k {check}")
    if not lines:
        return head + " -->"
    return head + "\n" + "\n".join(lines) + "\n-->"


_manifest = st.sampled_from(
    [
        '<!-- og:meta id=doc title="A title" version=2.0 scope=ops -->',
        '<!-- og:changelog\nversion=1.0 date=2026-01-02 changed=a,b summary="first"\n-->',
        '<!-- og:index\na keywords="k1, k2" dense="A dense summary."\n-->',
    ]
)

_block = st.one_of(
    _words.map(lambda w: f"{'#' * 2} {w}"),
    st.tuples(st.integers(1, 6), _words).map(lambda t: "#" * t[0] + " " + t[1]),
    _words,
    _words.map(lambda w: f"{w}\n===="),
    _words.map(lambda w: f"- {w}\n- {w}\n  continued"),
    _words.map(lambda w: f"1. {w}\n2. {w}"),
    _words.map(lambda w: f"```py\n# {w}\n<!-- og:node id=in-code -->\n```"),
    _words.map(lambda w: f"> {w}\n> > nested"),
    _words.map(lambda w: f"| a | b |\n|---|---|\n| {w} | 1 |"),
    _words.map(lambda w: f"    indented {w}"),
    st.just("---"),
    st.just("[ref]: https://example.com"),
    st.just("<div>\n<!-- og:node id=inside-html -->\n</div>"),
    _marker(),
    _manifest,
)


@st.composite
def documents(draw):
    nl = draw(_nl)
    blocks = draw(st.lists(_block, max_size=14))
    seps = [draw(st.sampled_from(["", nl, nl + nl])) for _ in blocks]
    text = "".join(b.replace("\n", nl) + nl + s for b, s in zip(blocks, seps))
    if draw(st.booleans()):
        text = text.rstrip("\r\n")
    return draw(st.sampled_from(["", nl, "---" + nl + "name: x" + nl + "---" + nl])) + text


def _parse_or_reject(text: str, **kwargs):
    try:
        return parse_document(text, **kwargs)
    except ObjectGraphSyntaxError:
        assume(False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.sampled_from([None, 16, 40]))
def test_render_of_parsed_document_is_the_source(text, max_tokens):
    doc = _parse_or_reject(text, max_node_tokens=max_tokens, metadata=False)
    assert render_document(doc) == text
    spans = "".join(
        s.raw + s.trailing if s.kind not in ("node",) else doc.get(s.node_id).full for s in doc.layout
    )
    assert spans == text


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="<"), max_size=300))
def test_any_text_without_og_blocks_is_a_valid_document(text):
    doc = parse_document(text, metadata=False, max_node_tokens=24)
    assert render_document(doc) == text
    assert "".join(n.full for n in doc.nodes).strip() == text.strip() or not doc.nodes


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_annotated_layout_keeps_every_node_and_its_text(text):
    doc = _parse_or_reject(text, max_node_tokens=40, metadata=False)
    annotated = render_document(with_og_layout(doc))
    again = parse_document(annotated, max_node_tokens=40, metadata=False)
    assert [(n.id, n.full, n.type, n.scopes, n.parent) for n in again.nodes] == [
        (n.id, n.full, n.type, n.scopes, n.parent) for n in doc.nodes
    ]
    assert render_document(again) == annotated


_FRAGMENTS = st.sampled_from(
    [
        "<!-- og:",
        "node",
        "meta",
        "index",
        "changelog",
        " id=",
        "a",
        "b#c",
        " type=",
        "assertion",
        "steps",
        " scopes=",
        "ops,",
        " confidence=",
        "0.5",
        "1e9",
        "nan",
        " retries=",
        "-1",
        "3",
        " escalate=",
        "role:x",
        ' title="',
        '\\"',
        '"',
        "\n",
        "\r\n",
        " ",
        "-->",
        ":requires ",
        ":see-also ",
        ":bogus ",
        "check: ",
        "x.y ",
        "eq ",
        "in ",
        "matches ",
        "exists",
        "[1,",
        "{",
        "# ",
        "## ",
        "```",
        "    ",
        "- ",
        "1. ",
        "> ",
        "version=",
        "date=",
        "2026-02-30",
        "changed=",
        "summary=",
        "\u2028",
        "\x00",
        "é",
        "<div>",
        "---",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=60).map("".join))
def test_malformed_input_only_ever_raises_syntax_errors(text):
    try:
        doc = parse_document(text, max_node_tokens=16)
    except ObjectGraphSyntaxError as err:
        assert err.line >= 1 and err.column >= 1 and err.hint
        return
    assert render_document(doc) == text
