"""Scopes are not inherited: a plain subsection of an admin-only section is served with the document's
default scope. `ogmux check` warns about each such subsection, so an author who marked only the section
learns before a reader does that its subsections are public."""

from __future__ import annotations

from pathlib import Path

from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import Corpus

DOC = """<!-- og:meta id=d title="D" version=1.0 scope=public format=1.0 -->

## Public intro

Hello.

<!-- og:node id=secret type=concept scopes=admin -->
## Secret

Secret text.

### Details

Served to everyone.

#### Deeper

Served to everyone too.

<!-- og:node id=marked type=concept scopes=public -->
### Marked public

Its author chose.

## Next public

### Its subsection

Public under public.
"""


def test_plain_subsections_of_a_hidden_section_are_warned_about(tmp_path: Path) -> None:
    (tmp_path / "d.og").write_text(DOC, encoding="utf-8")
    corpus = Corpus(tmp_path, ObjectGraphConfig())
    snapshot = corpus.snapshot()
    assert "Served to everyone too." in snapshot.nodes["d#details"].full  # still served (Deeper folded in)
    warned = [i for i in corpus.lint() if i.kind == "scope-not-inherited"]
    assert [(i.severity, i.line) for i in warned] == [("warning", 12)]  # not the marked one, not under public
    assert "d#details is nested in d#secret (admin) but has no og:node marker" in warned[0].message
    assert "public" in warned[0].message and "scopes=" in warned[0].hint
