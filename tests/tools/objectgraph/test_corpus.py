"""Corpus loading: directory trees of .og/.md, atomic reload, last-good on broken edits, lint."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import Corpus, CorpusError, _default_parse

from ogmux.demo import CORPUS as DEMO_CORPUS

RUNBOOK = """<!-- og:meta id=runbook title="Runbook" version=1.1 scope=public -->
<!-- og:changelog
version=1.1 date=2026-01-02 changed=restart summary="Restart drains first."
-->

<!-- og:node id=install type=steps -->
## Install

Install the package with pip.

<!-- og:node id=restart type=steps scopes=ops
:requires install
:requires kb#glossary
-->
## Restart

Drain traffic, then restart the unit.
"""

KB = """# Glossary

A replica is one running server.
"""

CONFIG = ObjectGraphConfig(reload=True, reload_interval_s=0)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    # make the change visible to the (mtime, size) check even on coarse-grained file systems
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000 * (1 + int(time.time()) % 7)))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    _write(tmp_path / "ops" / "runbook.og", RUNBOOK)
    _write(tmp_path / "kb.md", KB)
    _write(tmp_path / ".hidden" / "ignored.md", "# Ignored\n")
    _write(tmp_path / "notes.txt", "not a document")
    return tmp_path


def test_loads_og_and_md_recursively_with_cross_file_edges(tree: Path) -> None:
    snap = Corpus(tree, CONFIG).snapshot()
    assert sorted(snap.docs) == ["kb", "runbook"]
    restart = snap.nodes["runbook#restart"]
    assert [(e.kind, e.target) for e in restart.edges] == [("requires", "runbook#install"), ("requires", "kb#glossary")]
    assert restart.scopes == frozenset({"ops"})
    assert snap.nodes["kb#glossary"].scopes == frozenset()  # plain Markdown is public
    assert snap.nodes["runbook#install"].full == "## Install\n\nInstall the package with pip.\n\n"
    assert Corpus(tree, CONFIG).lint() == []


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="corpus directory not found"):
        Corpus(tmp_path / "nope", CONFIG)


def test_reload_swaps_in_changed_new_and_deleted_files(tree: Path) -> None:
    corpus = Corpus(tree, CONFIG)
    first = corpus.snapshot()
    assert corpus.snapshot() is first  # nothing changed: same snapshot object
    _write(tree / "kb.md", KB.replace("one running server", "one running ogmux server"))
    _write(tree / "faq.md", "# FAQ\n\nAsk here.\n")
    second = corpus.snapshot()
    assert second is not first and second.generation > first.generation
    assert "ogmux server" in second.nodes["kb#glossary"].full
    assert "faq" in second.docs
    assert "one running server" in first.nodes["kb#glossary"].full  # the old snapshot is untouched
    (tree / "faq.md").unlink()
    assert "faq" not in corpus.snapshot().docs


def test_broken_edit_keeps_last_good_version_and_reports_location(tree: Path) -> None:
    corpus = Corpus(tree, CONFIG)
    good = corpus.snapshot().nodes["runbook#restart"].full
    broken = RUNBOOK.replace("<!-- og:node id=install type=steps -->", "<!-- og:node id=install type=nonsense -->")
    _write(tree / "ops" / "runbook.og", broken)
    snap = corpus.snapshot()
    assert snap.nodes["runbook#restart"].full == good
    assert "kb" in snap.docs  # other documents keep serving
    [issue] = corpus.issues
    assert (issue.path, issue.line, issue.kind, issue.severity) == ("ops/runbook.og", 6, "syntax", "error")
    assert issue.column >= 1 and "last good version" in issue.message
    assert str(issue).startswith("ops/runbook.og:6:")
    _write(tree / "ops" / "runbook.og", RUNBOOK.replace("Drain traffic", "Drain all traffic"))
    assert "Drain all traffic" in corpus.snapshot().nodes["runbook#restart"].full
    assert corpus.issues == []


def test_a_file_that_never_parsed_is_reported_and_not_served(tree: Path) -> None:
    _write(tree / "bad.og", "<!-- og:meta id=bad\n# never closed\n")
    corpus = Corpus(tree, CONFIG)
    assert "bad" not in corpus.snapshot().docs
    [issue] = corpus.lint()
    assert issue.path == "bad.og" and issue.line == 1


def test_reload_off_serves_the_first_load(tree: Path) -> None:
    corpus = Corpus(tree, ObjectGraphConfig(reload=False))
    _write(tree / "kb.md", "# Glossary\n\nChanged.\n")
    assert "replica" in corpus.snapshot().nodes["kb#glossary"].full
    corpus.refresh()
    assert "Changed." in corpus.snapshot().nodes["kb#glossary"].full


def test_lint_reports_duplicates_dangling_and_cycles(tmp_path: Path) -> None:
    _write(tmp_path / "a.og", """<!-- og:meta id=a title=A version=1.0 -->

<!-- og:node id=one
:requires two
:see-also b#nowhere
-->
# One

text

<!-- og:node id=two
:requires b#three
-->
# Two

text

<!-- og:node id=four
:requires missing
-->
# Four

text
""")
    _write(tmp_path / "b.og", """<!-- og:meta id=b title=B version=1.0 -->

<!-- og:node id=three
:requires a#one
-->
# Three

text
""")
    _write(tmp_path / "z" / "copy.og", "<!-- og:meta id=a title=Again version=1.0 -->\n\n# Again\n\ntext\n")
    corpus = Corpus(tmp_path, CONFIG)
    issues = corpus.lint()
    by_kind = {i.kind: i for i in issues}
    assert set(by_kind) == {"duplicate-doc", "dangling-edge", "requires-cycle"}
    assert by_kind["duplicate-doc"].path == "z/copy.og"
    assert corpus.snapshot().docs["a"].title == "A"  # the first file keeps the id
    cycle = by_kind["requires-cycle"]
    assert all(x in cycle.message for x in ("a#one", "a#two", "b#three"))
    dangling = sorted((i.severity, i.message) for i in issues if i.kind == "dangling-edge")
    assert dangling == [
        ("error", "a#four :requires a#missing points to no node in the corpus"),
        ("warning", "a#one :see-also b#nowhere points to no node in the corpus"),
    ]
    assert issues[0].severity == "error" and issues[-1].severity == "warning"


def test_demo_corpus_is_the_default_and_lints_clean() -> None:
    cfg = ObjectGraphConfig()
    assert cfg.corpus_dir() == DEMO_CORPUS
    corpus = Corpus(cfg.corpus_dir(), cfg)
    assert len(corpus.snapshot().docs) >= 3
    assert [i for i in corpus.lint() if i.severity == "error"] == []


def test_out_of_range_retries_are_a_located_error_and_other_documents_serve(tree: Path) -> None:
    _write(tree / "check.og", "<!-- og:node id=ok type=assertion retries=500\ncheck: status eq \"ok\"\n-->\nAll good.\n")
    corpus = Corpus(tree, CONFIG)
    assert "kb" in corpus.snapshot().docs and "check" not in corpus.snapshot().docs
    [issue] = corpus.issues
    assert (issue.path, issue.line, issue.kind) == ("check.og", 1, "syntax")
    assert "retries must be a whole number from 0 to 100" in issue.message


def test_generated_ids_stay_within_the_id_limit(tmp_path: Path) -> None:
    parent = "p" * 128
    text = f"# Setup\n\nText.\n\n<!-- og:node id={parent} -->\n## Long\n\nText.\n\n### Setup\n\nText.\n\n### Setup\n\nMore.\n"
    _write(tmp_path / "long.md", text)
    corpus = Corpus(tmp_path, CONFIG)
    ids = [n.node for n in corpus.snapshot().nodes.values()]
    assert corpus.issues == [] and len(ids) == 4 and len(set(ids)) == 4
    assert max(len(i) for i in ids) <= 128


def test_a_validation_error_the_parser_missed_is_reported_not_raised(tree: Path) -> None:
    from pydantic import BaseModel, ValidationError

    class Strict(BaseModel):
        retries: int

    def parse(text: str, path: str, config: ObjectGraphConfig):
        if path == "kb.md":
            Strict(retries="many")  # raises ValidationError
        return _default_parse(text, path, config)

    corpus = Corpus(tree, CONFIG, parse=parse)
    assert "runbook" in corpus.snapshot().docs and "kb" not in corpus.snapshot().docs
    [issue] = corpus.issues
    assert issue.path == "kb.md" and issue.kind == "syntax" and "retries" in issue.message
    with pytest.raises(ValidationError):
        Strict(retries="many")


def test_crlf_documents_keep_their_bytes_through_the_corpus(tmp_path: Path) -> None:
    (tmp_path / "win.md").write_bytes(b"# Title\r\n\r\nFirst line.\r\n\r\n## Next\r\n\r\nSecond.\r\n")
    snap = Corpus(tmp_path, CONFIG).snapshot()
    assert snap.nodes["win#next"].full == "## Next\r\n\r\nSecond.\r\n"
