"""A document writer names a corpus file: the name is untrusted text, and every load problem is printed
with it (`ogmux check`, and the server's log while it serves). A name holding a line break or a terminal
escape forged a line of its own and recoloured the operator's terminal; it is shown escaped."""

from __future__ import annotations

from pathlib import Path

import pytest

from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import Corpus


@pytest.mark.parametrize(
    "name",
    [
        "a\nd.og:1:1: error: forged.og",
        "a\x1b[2J\x1b[31m.og",
        "a\r.og",
        "a\u202egpj.og",
        "a\u2028b.og",
        "a\x7f.og",
    ],
)
def test_a_file_name_is_printed_escaped_in_every_load_problem(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("<!-- og:node id=??? -->\n## T\n", encoding="utf-8")
    [issue] = Corpus(tmp_path, ObjectGraphConfig()).issues
    line = str(issue)
    assert line.isprintable(), repr(line)
    assert line.startswith(name.encode("unicode_escape").decode("ascii") + ":1:14: error: invalid id '???'")
    assert issue.path == name  # the record keeps the real name


def test_a_printable_file_name_is_shown_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "café notes.og").write_text("<!-- og:node id=??? -->\n## T\n", encoding="utf-8")
    [issue] = Corpus(tmp_path, ObjectGraphConfig()).issues
    assert str(issue).startswith("café notes.og:1:14: error:")
