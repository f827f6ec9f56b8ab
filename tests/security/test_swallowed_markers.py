"""A section cannot take in the hidden section after it: an og: block that an open code fence or an HTML
block above it turns into text would be served, with its section, to the readers of the section above.

Such a file is a located error (the file is not served); og: blocks shown as examples inside closed code
fences stay text.
"""

from __future__ import annotations

import pytest

from ogmux.tools.objectgraph.errors import ObjectGraphSyntaxError
from ogmux.tools.objectgraph.parser import parse_document

HEAD = '<!-- og:meta id=fen title="Fen" version=1.0 scope=public format=1.0 -->\n\n'
PUBLIC = "<!-- og:node id=pub type=concept scopes=public -->\n## Public part\n\nExample:\n\n"
HIDDEN = "<!-- og:node id=zqhidden type=concept scopes=admin -->\n## Zq hidden\n\nZQSECRET text.\n"
HIDDEN_WITH_CODE = HIDDEN + "\n```\nzqcode\n```\n"
AFTER = "\n<!-- og:node id=later type=concept scopes=public -->\n## Later\n\nMore.\n"


@pytest.mark.parametrize(
    ("opener", "hidden", "tail"),
    [
        ("```\nunclosed\n\n", HIDDEN, ""),  # a fence running to the end of the file
        ("~~~\nunclosed\n\n", HIDDEN, AFTER),
        ("````\nlonger fence\n\n", HIDDEN_WITH_CODE, ""),  # ``` cannot close ````
        ("```\nunclosed\n\n", HIDDEN_WITH_CODE, ""),  # closed by the hidden section's own fence
        ("```\nunclosed\n\n", HIDDEN_WITH_CODE + "\n```\nmore\n```\n", AFTER),
        ("<!--\nan open comment\n\n", HIDDEN, ""),  # closed by the marker's own -->
        ("<pre>\nopen\n\n", HIDDEN, AFTER),
        ("<script>\nopen\n\n", HIDDEN, ""),
        ("<div>\n", HIDDEN, ""),  # an HTML block ends only at a blank line
        ("</div>\n", HIDDEN, ""),
        ("<![CDATA[\n", HIDDEN, ""),
        ("<?php\n", HIDDEN, AFTER),
        ("<!DOCTYPE\n", HIDDEN, ""),
    ],
    ids=["fence-eof", "tilde", "longer-fence", "closed-by-victim", "even-fences", "comment", "pre", "script", "div",
         "close-tag", "cdata", "processing", "declaration"],
)
def test_an_og_block_swallowed_by_the_section_above_is_a_located_error(opener: str, hidden: str, tail: str) -> None:
    text = HEAD + PUBLIC + opener + hidden + tail
    with pytest.raises(ObjectGraphSyntaxError) as err:
        doc = parse_document(text, path="fen.og")
        served = {n.id: (sorted(n.scopes), n.full) for n in doc.nodes}
        pytest.fail(f"parsed without error: {served}")
    line = text.splitlines().index(HIDDEN.splitlines()[0]) + 1
    assert f"fen.og:{line}:" in str(err.value) and "read as text" in str(err.value)


@pytest.mark.parametrize(
    "example",
    [
        "```\n<!-- og:node id=ex type=concept scopes=ops -->\n## Example\n```\n",
        "~~~markdown\n<!-- og:node id=ex scopes=ops -->\n~~~\n",
        "````\n```\n<!-- og:node id=ex scopes=ops -->\n```\n````\n",
    ],
)
def test_og_blocks_shown_in_closed_code_fences_stay_text(example: str) -> None:
    doc = parse_document(HEAD + PUBLIC + example + "\n" + HIDDEN, path="fen.og")
    nodes = {n.id: n for n in doc.nodes}
    assert "og:node id=ex" in nodes["pub"].full and "ZQSECRET" not in nodes["pub"].full
    assert "ZQSECRET" in nodes["zqhidden"].full and nodes["zqhidden"].scopes == ["admin"]


def test_an_unclosed_fence_after_the_last_og_block_is_still_markdown() -> None:
    doc = parse_document(HEAD + PUBLIC + "```\nno closing fence, nothing after\n", path="fen.og")
    assert [n.id for n in doc.nodes] == ["pub"]


@pytest.mark.parametrize(
    "last_block",
    ["| a | b |\n|---|---|\n| 1 | 2 |\n", "some text\n", "> quoted\n", "- item\n\n  more\n", "text <span\n",
     "[x]: http://a.example\n", "> ```\n> code\n", "- ```\n  code\n", "Title\n", '[x]: http://a.example "open\n',
     "[x]: <http://a\n", "text \\\n", "    indented code\n"],
    ids=["table", "paragraph", "quote", "list", "inline-html", "refdef", "quoted-fence", "listed-fence", "setext",
         "open-title", "open-angle", "backslash", "indented-code"],
)  # fmt: skip
def test_other_blocks_end_before_the_next_og_block(last_block: str) -> None:
    """Containers and paragraphs left open end at a marker line: the hidden section stays its own node."""
    nodes = {n.id: n for n in parse_document(HEAD + PUBLIC + last_block + HIDDEN, path="fen.og").nodes}
    assert "ZQSECRET" not in nodes["pub"].full and nodes["zqhidden"].scopes == ["admin"]


@pytest.mark.parametrize(
    "text",
    [
        HEAD + "<!-- og:node id=pub type=concept scopes=public\n:see-also later\n\n" + HIDDEN,
        HEAD + '<!-- og:changelog\nversion=1.0 date=2026-01-01 changed=pub summary="x"\n' + PUBLIC + HIDDEN,
        '<!-- og:meta id=fen version=1.0\n' + PUBLIC + HIDDEN,
    ],
    ids=["open-marker", "open-changelog", "open-meta"],
)
def test_an_og_block_left_open_is_a_located_error(text: str) -> None:
    with pytest.raises(ObjectGraphSyntaxError, match=r"^fen\.og:\d+:1: "):
        parse_document(text, path="fen.og")


def test_an_og_block_inside_front_matter_is_a_located_error() -> None:
    """A `---` opened at the top is closed by the first `---` below it, a thematic break in a hidden section
    as well: everything between was the public preamble."""
    text = "---\ntitle: x\n" + HEAD + "Intro.\n\n" + HIDDEN + "\n---\n\nMore.\n"
    with pytest.raises(ObjectGraphSyntaxError, match=r"^fen\.og:3:1: og: block read as text: it is inside front matter"):
        parse_document(text, path="fen.og")
