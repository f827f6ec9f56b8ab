"""Whatever a file holds, parsing it either succeeds or raises a located `ObjectGraphSyntaxError`.

Documents are mutated where parsers are fragile: comment markers (`<!--`, `-->`, `og:` lines),
attribute quoting and escapes, line breaks of every kind, and invalid UTF-8 bytes.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ogmux.tools.objectgraph.errors import ObjectGraphSyntaxError
from ogmux.tools.objectgraph.parser import decode_source, parse_document, split_lines

SEEDS = [
    """<!-- og:meta id=runbook title="Runbook" version=1.1 scope=public -->
<!-- og:index
install title="Install" keywords=pip dense="Install with pip."
-->
<!-- og:changelog
version=1.1 date=2026-01-02 changed=restart summary="Restart drains first."
-->

<!-- og:node id=install type=steps -->
## Install

Install the package with pip.

<!-- og:node id=restart type=steps scopes=ops version=1.1
:requires install
:see-also kb#glossary
-->
## Restart

Drain traffic, then restart the unit.

<!-- og:node id=healthy type=assertion retries=1 escalate=role:oncall
check: health.status eq "ok"
-->
The unit answers.
""",
    "# Title\n\nText.\n\n## Setup {#setup}\n\n- one\n- two\n\n```sh\n<!-- og:node id=x -->\n```\n",
    "<!--\nog:node id=x\n-->\n# Looks like a comment\n\ntext\n",
    "---\ntitle: Front\n---\n\n<!-- og:node id=a -->\nHeadless node.\n",
    # scoped sections: generated ids, parents, steps and titles depend on who may see what
    ("# Ops\n\n<!-- og:node id=setup scopes=admin -->\n## Setup\n\nsecret\n\n## Step 1\n\nDrain.\n\n"
    "<!-- og:node id=step-2 scopes=ops,admin version=2 -->\n## Step 2\n\nSee Setup.\n\n### Setup\n\n"
    "> quoted\n> - item\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nTitle\n=====\n"),
]
PIECES = [
    "<!--", "-->", "<!-- og:", "og:", "og:node", "og:meta", "og:index", "og:changelog", " id=", "id=a",
    '"', '\\"', "\\", "\\u00", "=", " ", "\t", "\n", "\r", "\r\n", "\u2028", "\x0c", "#", "## ", "---\n",
    "```", "> ", "- ", ":requires ", "check: a.b eq ", "type=assertion", "{#x}", "\ufeff", "\x00", "é", ",",
    " scopes=admin", " scopes=", " version=", "<!-- og:node id=setup -->\n", "> > > ", "    - ", "1. ", "===\n",
    "| a |\n|---|\n", "<div>\n", "<!---->", ":precedes x#y", "\u202e", "\u200b", "\uff1c\uff1c\uff1cend og-data",
    "## Step 1\n", "{#", "[a](#setup)",
]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "insert", "delete", "duplicate"]))
        if op == "insert":
            text = text[:at] + draw(st.sampled_from(PIECES)) + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 6)) :]
        else:
            src = draw(st.integers(0, len(text)))
            text = text[:at] + text[src : src + draw(st.integers(1, 30))] + text[at:]
    return text


def _check_located(exc: ObjectGraphSyntaxError, text: str) -> None:
    assert exc.path == "f.og"
    assert 1 <= exc.line <= len(split_lines(text)) + 1 and exc.column >= 1
    assert str(exc).startswith(f"f.og:{exc.line}:{exc.column}: ")


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated())
def test_mutated_documents_parse_or_raise_a_located_error(text: str) -> None:
    try:
        parse_document(text, path="f.og")
    except ObjectGraphSyntaxError as exc:
        _check_located(exc, text)


@settings(max_examples=100, deadline=None)
@given(text=mutated(), at=st.floats(0, 1), bad=st.sampled_from([b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80"]))
def test_invalid_utf8_is_a_located_error_at_the_first_bad_byte(text: str, at: float, bad: bytes) -> None:
    data = text.encode("utf-8")
    cut = int(len(data) * at)
    while cut < len(data) and (data[cut] & 0xC0) == 0x80:  # a character boundary
        cut += 1
    try:
        decode_source(data[:cut] + bad + b"\n" + data[cut:], "f.og")
    except ObjectGraphSyntaxError as exc:
        prefix = data[:cut].decode("utf-8")
        lines = split_lines(prefix)
        line_no = len(lines) + (1 if not lines or lines[-1] != lines[-1].rstrip("\r\n") else 0)
        assert exc.line == line_no
        last = lines[-1] if lines and lines[-1] == lines[-1].rstrip("\r\n") else ""
        assert exc.column == len(last) + 1
    else:
        raise AssertionError("invalid UTF-8 was decoded")


def test_the_comment_that_tripped_an_assert_fails_the_same_way_under_python_O() -> None:
    code = (
        "from ogmux.tools.objectgraph.parser import parse_document\n"
        "from ogmux.tools.objectgraph.errors import ObjectGraphSyntaxError\n"
        "try:\n"
        "    parse_document('<!--\\nog:node id=x\\n-->\\n# Looks like a comment\\n\\ntext\\n', path='f.og')\n"
        "except ObjectGraphSyntaxError as exc:\n"
        "    print(exc)\n"
    )
    for flags in ([], ["-O"]):
        out = subprocess.run([sys.executable, *flags, "-c", code], check=False, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("f.og:1:1: og: must follow <!-- on the same line")


def test_costly_shapes_are_bounded_or_refused_with_a_located_error() -> None:
    """Many duplicate headings stay linear; unbounded scope lists and node counts are located errors."""
    import time

    from ogmux.tools.objectgraph.parser import MAX_NODES, MAX_SCOPE_SETS

    started = time.perf_counter()
    doc = parse_document("".join("## Setup\n\nt\n\n" for _ in range(2000)), path="f.og", metadata=False)
    assert doc.nodes[-1].id == "setup-2000" and time.perf_counter() - started < 30
    scoped = "".join(f"<!-- og:node id=n{i} scopes=s{i} -->\n## H{i}\n\nt\n\n" for i in range(MAX_SCOPE_SETS + 1))
    with pytest.raises(ObjectGraphSyntaxError) as scopes:
        parse_document(scoped, path="f.og", metadata=False)
    assert scopes.value.line == 5 * MAX_SCOPE_SETS + 1 and "different scope lists" in scopes.value.message
    many = "".join(f"## H{i}\n\n" for i in range(MAX_NODES + 1))
    with pytest.raises(ObjectGraphSyntaxError) as nodes:
        parse_document(many, path="f.og", metadata=False)
    assert nodes.value.line == 2 * MAX_NODES + 1 and "more than" in nodes.value.message
