"""Edges inferred from Markdown: each rule on small hand-written documents, authored edges winning,
the `.og` round trip, `ogmux check`, the default edge following of resolve_context, and scopes."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import Corpus, build_snapshot
from ogmux.tools.objectgraph.inference import inferred_edges
from ogmux.tools.objectgraph.parser import parse_document
from ogmux.tools.objectgraph.render import render_resolve
from ogmux.tools.objectgraph.resolve import resolve_context
from ogmux.tools.objectgraph.search import search_index
from ogmux.tools.objectgraph.transpile import transpile_text


def edges(md: str, path: str = "guide.md") -> set[tuple[str, str, str]]:
    doc = parse_document(md, path=path)
    return {(nid, e.kind, e.target) for nid, es in inferred_edges(doc).items() for e in es if e.inferred}


def test_anchor_links_are_see_also_and_table_of_contents_lines_are_not() -> None:
    md = (
        "# Guide\n\nContents:\n\n* [Install](#install)\n* [Usage](#usage)\n\n## Install\n\nRun the installer.\n\n"
        "## Usage\n\nStart it; the [installer](#install) must have run. Read [the docs](https://example.com).\n"
    )
    assert edges(md) == {("usage", "see-also", "install")}


def test_links_inside_html_comments_infer_nothing() -> None:
    md = "# Guide\n\nIntro.\n\n## Install\n\nRun it.\n\n## Usage\n\n<!-- see [Install](#install) first -->\nStart it.\n"
    assert edges(md) == set()


def test_relative_links_to_other_documents_are_cross_file_see_also() -> None:
    md = "# Ops\n\nOperations.\n\n## Backup\n\nPorts are listed in [the FAQ](../faq/common-questions.md#open-ports); see [x](notes.txt#a).\n"
    assert edges(md, "ops/ops.md") == {("backup", "see-also", "common-questions#open-ports")}


def test_see_and_as_described_in_another_heading_are_requires() -> None:
    md = (
        "# Guide\n\nHow to keep data safe.\n\n## Create a snapshot\n\nRun the save command.\n\n"
        "## Restore\n\nFirst take a backup as described in Create a snapshot, then restore.\n\n"
        "## Upgrade\n\nStop the node; see [the snapshot steps](#create-a-snapshot).\n\n"
        "## Notes\n\nSee the release notes for more.\n"
    )
    assert edges(md) == {("restore", "requires", "create-a-snapshot"), ("upgrade", "requires", "create-a-snapshot")}


def test_prerequisite_sections_are_required_by_their_later_siblings() -> None:
    md = (
        "# Deploy\n\nIntro text.\n\n## Overview\n\nWhat this does.\n\n## Before you begin\n\nGet a token.\n\n"
        "## Deploy the app\n\nRun deploy.\n\n## Verify\n\nCheck the health page.\n"
    )
    assert edges(md) == {("deploy-the-app", "requires", "before-you-begin"), ("verify", "requires", "before-you-begin")}


def test_numbered_step_sections_precede_each_other() -> None:
    md = (
        "# Setup\n\nIntro.\n\n## Step 1: Install\n\nInstall it.\n\n## Step 2: Configure\n\nConfigure it.\n\n"
        "## Step 4: Run\n\nRun it.\n\n## 1. Alpha\n\nA.\n\n## 2. Beta\n\nB.\n"
    )
    assert edges(md) == {
        ("step-1-install", "precedes", "step-2-configure"),
        ("1-alpha", "precedes", "2-beta"),
    }


def test_a_numbered_list_split_over_parts_precedes_its_continuation() -> None:
    steps = "".join(f"{i}. Run the command number {i} of the long procedure, then check its output.\n" for i in range(1, 61))
    doc = parse_document(f"# Long\n\nIntro.\n\n## Procedure\n\n{steps}", path="long.md", max_node_tokens=200)
    parts = [n.id for n in doc.nodes if n.id.startswith("procedure")]
    assert len(parts) >= 3
    got = {(nid, e.kind, e.target) for nid, es in inferred_edges(doc).items() for e in es}
    assert {(a, "precedes", b) for a, b in pairwise(parts)} <= got


def test_a_heading_without_text_requires_its_children() -> None:
    md = "# Recipes\n\nFamily recipes.\n\n## Sourdough bread\n\n### Starter\n\nFeed it.\n\n### Baking\n\nBake it.\n"
    assert edges(md) == {("sourdough-bread", "requires", "starter"), ("sourdough-bread", "requires", "baking")}


def test_authored_edges_win_over_inferred_ones() -> None:
    og = (
        "<!-- og:meta id=guide title=Guide version=1.0 -->\n"
        "<!-- og:node id=install -->\n## Install\n\nRun it.\n\n"
        "<!-- og:node id=usage\n:see-also install\n-->\n## Usage\n\nSee [Install](#install) first; also [usage](#usage).\n"
    )
    doc = parse_document(og, path="guide.og")
    assert inferred_edges(doc) == {}  # the authored :see-also stands; a link to itself is no edge
    snap, _ = build_snapshot([doc])
    [edge] = snap.nodes["guide#usage"].edges
    assert (edge.kind, edge.target, edge.inferred) == ("see-also", "guide#install", False)


def test_transpile_writes_inferred_edges_that_parse_back_as_inferred() -> None:
    md = "# Guide\n\nHow to deploy.\n\n## Prerequisites\n\nA token.\n\n## Deploy\n\nRun it; see [Prerequisites](#prerequisites).\n"
    og, _ = transpile_text(md, path="guide.md")
    assert ":requires prerequisites (inferred)" in og
    doc = parse_document(og, path="guide.og")
    [edge] = doc.get("deploy").edges
    assert (edge.kind, edge.target, edge.inferred) == ("requires", "prerequisites", True)
    assert inferred_edges(doc) == {}  # nothing is inferred twice
    again, _ = transpile_text(og, path="guide.og")
    assert again.count("(inferred)") == og.count("(inferred)")


def test_check_lists_inferred_edges(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ogmux.server.cli import main

    (tmp_path / "guide.md").write_text(
        "# Guide\n\nHow to deploy.\n\n## Prerequisites\n\nA token.\n\n## Deploy\n\nRun it. Ports: [FAQ](faq.md#ports).\n", encoding="utf-8"
    )
    assert main(["check", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "inferred: guide#deploy :requires guide#prerequisites" in out
    assert "inferred: guide#deploy :see-also faq#ports (no such node)" in out
    assert "2 inferred edges" in out and "0 warnings" in out


RUNBOOK = """# Runbook

Intro to the runbook.

## Prerequisites

Get an operator token from the vault before anything else.

## Restart the server

Drain the replica, then restart it.

## Rotate keys

Rotate the signing keys every month.
"""


@pytest.fixture
def runbook(tmp_path: Path) -> Corpus:
    (tmp_path / "runbook.md").write_text(RUNBOOK, encoding="utf-8")
    return Corpus(tmp_path, ObjectGraphConfig(reload=False))


def test_default_resolve_follows_inferred_prerequisites_within_the_follow_budget(runbook: Corpus) -> None:
    snap = runbook.snapshot()
    res = resolve_context(snap, ["runbook#restart-the-server"], level="full")
    assert [n.id for n in res.nodes] == ["runbook#prerequisites", "runbook#restart-the-server"]
    assert res.nodes[0].reason == "requires of runbook#restart-the-server" and not res.omitted
    tight = ObjectGraphConfig(follow_tokens=5)
    res = resolve_context(snap, ["runbook#restart-the-server"], level="full", config=tight)
    assert [n.id for n in res.nodes] == ["runbook#restart-the-server"]
    assert res.omitted == ["runbook#prerequisites"] and res.continuation is not None
    assert res.continuation.ids == ["runbook#prerequisites"]
    none = resolve_context(snap, ["runbook#restart-the-server"], level="full", follow=[])
    assert [n.id for n in none.nodes] == ["runbook#restart-the-server"] and not none.omitted


def test_default_follow_budget_serves_the_most_relevant_id_first(tmp_path: Path) -> None:
    md = (
        "# Ops\n\nIntro.\n\n## Token setup\n\nAsk the vault for a token.\n\n"
        "## Network setup\n\nOpen ports 80 and 443 on the firewall of every host in the cluster.\n\n"
        "## Restart\n\nDrain it; see Token setup.\n\n## Migrate\n\nCopy the data; see Network setup.\n"
    )
    (tmp_path / "ops.md").write_text(md, encoding="utf-8")
    snap = Corpus(tmp_path, ObjectGraphConfig(reload=False)).snapshot()
    budget = ObjectGraphConfig(follow_tokens=snap.tokens(snap.nodes["ops#network-setup"], "full"))
    first = resolve_context(snap, ["ops#migrate", "ops#restart"], level="full", config=budget)
    assert "ops#network-setup" in [n.id for n in first.nodes] and first.omitted == ["ops#token-setup"]
    swapped = resolve_context(snap, ["ops#restart", "ops#migrate"], level="full", config=budget)
    assert "ops#token-setup" in [n.id for n in swapped.nodes] and swapped.omitted == ["ops#network-setup"]


def test_an_empty_heading_resolves_to_its_children(tmp_path: Path) -> None:
    (tmp_path / "recipes.md").write_text(
        "# Recipes\n\nFamily recipes.\n\n## Sourdough bread\n\n### Starter\n\nFeed it daily.\n\n### Baking\n\nBake it hot.\n",
        encoding="utf-8",
    )
    snap = Corpus(tmp_path, ObjectGraphConfig(reload=False, merge_tokens=0)).snapshot()
    res = resolve_context(snap, ["recipes#sourdough-bread"], level="full")
    assert {n.id for n in res.nodes} == {"recipes#sourdough-bread", "recipes#starter", "recipes#baking"}


SCOPED = """<!-- og:meta id=ops title=Ops version=1.0 -->
# Ops

Intro to operations.

<!-- og:node id=prerequisites scopes=admin -->
## Prerequisites

The root token zqsecretx lives in the vault.

<!-- og:node id=restore-from-backup scopes=admin -->
## Restore from backup now

Use the admin restore zqsecretx path.

<!-- og:node id=restore-from -->
## Restore from backup

Copy the backup file back.

<!-- og:node id=restart -->
## Restart

Drain first; see Restore from backup now. Also read [the root token](#prerequisites).

<!-- og:node id=step-1 -->
## Step 1 drain

Drain.

<!-- og:node id=step-2 scopes=admin -->
## Step 2 zqsecretx

Hidden step.

<!-- og:node id=step-3 -->
## Step 3 start

Start.
"""


@pytest.mark.parametrize("caller", [frozenset(), frozenset({"admin"}), frozenset({"*"})])
def test_inferred_edges_and_embedding_scores_reveal_no_hidden_node(caller: frozenset[str]) -> None:
    """Every answer equals the answer over the corpus with the caller's hidden nodes deleted."""
    doc = parse_document(SCOPED, path="ops.og")
    visible = doc.model_copy(update={"nodes": [n for n in doc.nodes if "admin" not in n.scopes or caller]})
    full, _ = build_snapshot([doc])
    only, _ = build_snapshot([visible])
    hybrid = ObjectGraphConfig(ranking="hybrid")
    for snap_pair in [(full, only)]:
        a, b = snap_pair
        for q in ("restore the backup", "token vault", "drain and restart", "zqsecretx"):
            assert search_index(a, q, k=5, scopes=caller, config=hybrid) == search_index(b, q, k=5, scopes=caller, config=hybrid)
        for ids in (["ops#restart"], ["ops#step-1"], ["ops#step-3", "ops#restart"]):
            for follow in (None, [":requires"], [":precedes", ":see-also"], [":requires", ":precedes", ":see-also"]):
                ra = resolve_context(a, ids, level="full", follow=follow, depth=2, scopes=caller)
                rb = resolve_context(b, ids, level="full", follow=follow, depth=2, scopes=caller)
                assert ra == rb
                if not caller:
                    assert "zqsecretx" not in render_resolve(ra)
    if not caller:
        restart = full.nodes["ops#restart"]
        # the public mention matches the public heading it names, never the longer hidden one
        assert ("requires", "ops#restore-from") in {(e.kind, e.target) for e in restart.edges}


@pytest.mark.parametrize("hidden", ["## Step 2 zqsecretx\n\nHidden.\n", "## Step 1 zqsecretx\n\nHidden.\n"])
def test_a_hidden_step_does_not_change_the_public_steps_order(hidden: str) -> None:
    """A hidden 'Step 2' (or a second 'Step 1') between two public steps took the public step 1's :precedes
    edge to the public step 2, so a reader learnt a hidden step was there."""
    public = "# Ops\n\nIntro.\n\n## Step 1 drain\n\nDrain.\n\n{}## Step 2 start\n\nStart.\n"
    with_hidden = edges(public.format(f"<!-- og:node id=secret scopes=admin -->\n{hidden}\n"), "ops.md")
    without = edges(public.format(""), "ops.md")
    assert ("step-1-drain", "precedes", "step-2-start") in without
    assert {e for e in with_hidden if "secret" not in (e[0], e[2])} == without


def test_inference_reads_the_sections_once_per_scope_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every node listed and sorted every section it may name: an 82 KB file of 4,900 sections took 82 s of
    the reload thread. Nodes with the same scopes now share one list, and a mention is looked up by its
    words rather than against every title."""
    from ogmux.tools.objectgraph import inference

    built: list[str] = []
    init = inference._Targets.__init__
    monkeypatch.setattr(inference._Targets, "__init__", lambda self, doc, source: built.append(source.id) or init(self, doc, source))
    sections = "".join(f"## Part {i} of many\n\nSee part {i + 1} of many. See Part 1 of many now.\n\n" for i in range(2000))
    hidden = "<!-- og:node id=secret scopes=admin -->\n## Secret part\n\nSee part 7 of many.\n\n"
    doc = parse_document("# Top\n\nIntro.\n\n" + hidden + sections, path="f.md", metadata=False)
    edges = inferred_edges(doc)
    assert len(built) == 2  # public and admin
    assert [e.target for e in edges["part-5-of-many"] if e.kind == "requires"] == ["part-6-of-many", "part-1-of-many"]
    assert [e.target for e in edges["secret"] if e.kind == "requires"] == ["part-7-of-many"]


# 63 edges: one place is left of the 64 a node may have
_LINKS = "".join(f"[s{i}](#s{i}) " for i in range(63))
_SECTIONS = "# Guide\n\nIntro.\n\n" + "".join(f"## S{i}\n\nBody {i}.\n\n" for i in range(63))
_CAPPED = {
    "hidden prerequisite sibling": (
        _SECTIONS + "{hidden}## Requirements\n\nPublic requirements.\n\n## Deploy\n\nDeploy now. "
        + _LINKS + "\n",
        "<!-- og:node id=zqprereq scopes=admin -->\n## Prerequisites\n\nHidden prerequisites.\n\n",
        "doc#deploy",
    ),
    "hidden child of an empty heading": (
        "# Guide\n\nIntro.\n\n## Deploy\n\n{hidden}"
        + "".join(f"### Step {i} of 64\n\nDo {i}.\n\n" for i in range(64)),
        "<!-- og:node id=zqchild scopes=admin -->\n### Hidden step\n\nHidden step.\n\n",
        "doc#deploy",
    ),
}


@pytest.mark.parametrize("case", list(_CAPPED))
def test_an_edge_to_a_hidden_section_takes_no_place_of_a_visible_one(case: str) -> None:
    """A hidden "Prerequisites" sibling, or a hidden child of a heading without text, was inferred as an
    edge of the public node: the reader never saw it, but it took one of the node's 64 edge places, so the
    public edge after it was dropped only when the hidden section was in the file."""
    text, hidden, ref = _CAPPED[case]
    reader = frozenset({"public"})

    def seen(md: str) -> list[list[str]]:
        snap, _ = build_snapshot([parse_document(md, path="doc.md", max_node_tokens=None)])
        res = resolve_context(snap, [ref], level="index", depth=0, scopes=reader)
        return [f"{e.kind} {e.target}" for e in res.nodes[0].edges]

    with_hidden, without = seen(text.format(hidden=hidden)), seen(text.format(hidden=""))
    assert len(without) == 64
    assert with_hidden == without
