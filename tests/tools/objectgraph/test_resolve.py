"""resolve_context: levels, byte-exact Full level, dependency order, cycles, budget, deltas, assertions."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from ogmux.tools.objectgraph.access import NotFoundError
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import Corpus
from ogmux.tools.objectgraph.resolve import resolve_context
from ogmux.tools.objectgraph.snapshot import Snapshot
from ogmux.tools.objectgraph.tokens import count_tokens

OPS = """<!-- og:meta id=ops title="Ops" version=1.3 scope=public -->
<!-- og:changelog
version=1.1 date=2026-01-01 changed=install summary="Install with pip."
version=1.2 date=2026-02-01 changed=restart summary="Drain first."
version=1.3 date=2026-03-01 changed=health,secret summary="Health check and key rotation."
-->

<!-- og:node id=install type=steps -->
## Install

Run `pip install ogmux`.

<!-- og:node id=restart type=steps
:requires install
:requires kb#replica
:precedes health
-->
## Restart

1. Drain the replica.
2. Restart it.

<!-- og:node id=health type=assertion retries=1 escalate=oncall
:verifies restart
check: health.up eq true
check: tools.count ge 2
-->
## Health

The server answers and lists its tools.

<!-- og:node id=oncall type=warning -->
## On call

Page the operator.

<!-- og:node id=secret type=reference scopes=admin
:requires install
-->
## Root key

The root key lives in the vault.
"""

KB = """<!-- og:meta id=kb title="KB" version=2.0 -->

<!-- og:node id=replica type=concept
:requires loop-a
-->
# Replica

One running server.

<!-- og:node id=loop-a
:requires loop-b
-->
# Loop A

a

<!-- og:node id=loop-b
:requires loop-a
-->
# Loop B

b
"""


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    (root / "ops.og").write_text(OPS, encoding="utf-8")
    (root / "kb.og").write_text(KB, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def snap(corpus_dir: Path) -> Snapshot:
    return Corpus(corpus_dir, ObjectGraphConfig(reload=False)).snapshot()


PUBLIC = frozenset({"public"})


def test_full_level_is_the_node_source_byte_for_byte(snap: Snapshot, corpus_dir: Path) -> None:
    res = resolve_context(snap, ["ops#restart"], level="full", follow=[], scopes=PUBLIC)
    [node] = res.nodes
    source = (corpus_dir / "ops.og").read_text(encoding="utf-8")
    assert node.text in source and node.text.startswith("## Restart\n")
    assert node.text == "## Restart\n\n1. Drain the replica.\n2. Restart it.\n\n"
    assert node.tokens == count_tokens(node.text)
    assert (node.doc, node.doc_version) == ("ops", "1.3")
    assert node.hash.startswith("sha256:") and len(node.hash) == 71


def test_levels(snap: Snapshot) -> None:
    dense = resolve_context(snap, ["ops#install"], level="dense", follow=[]).nodes[0]
    index = resolve_context(snap, ["ops#install"], level="index", follow=[]).nodes[0]
    full = resolve_context(snap, ["ops#install"], level="full", follow=[]).nodes[0]
    assert dense.text == snap.nodes["ops#install"].dense and dense.text
    assert index.text.startswith("Install")
    assert full.tokens > 0 and dense.hash == full.hash == index.hash


def test_follows_requires_across_files_in_dependency_order(snap: Snapshot) -> None:
    res = resolve_context(snap, ["ops#restart"], level="dense", depth=1, scopes=PUBLIC)
    ids = [n.id for n in res.nodes]
    assert set(ids) == {"ops#restart", "ops#install", "kb#replica"}
    assert ids.index("ops#install") < ids.index("ops#restart")
    assert ids.index("kb#replica") < ids.index("ops#restart")
    reasons = {n.id: n.reason for n in res.nodes}
    assert reasons == {"ops#restart": "requested", "ops#install": "requires of ops#restart", "kb#replica": "requires of ops#restart"}


def test_depth_bounds_traversal_and_cycles_terminate(snap: Snapshot) -> None:
    shallow = resolve_context(snap, ["ops#restart"], depth=0)
    assert [n.id for n in shallow.nodes] == ["ops#restart"]
    deep = resolve_context(snap, ["ops#restart"], depth=8)
    ids = [n.id for n in deep.nodes]
    assert len(ids) == len(set(ids)) == 5
    assert {"kb#loop-a", "kb#loop-b"} <= set(ids)
    assert ids[-1] == "ops#restart"


def test_precedes_and_unknown_edge_kind(snap: Snapshot) -> None:
    res = resolve_context(snap, ["ops#restart"], follow=[":precedes"], depth=1)
    assert [n.id for n in res.nodes] == ["ops#restart", "ops#health"]
    with pytest.raises(ValueError, match="unknown edge kind ':depends'"):
        resolve_context(snap, ["ops#restart"], follow=[":depends"])


def test_budget_leaves_out_a_suffix_and_the_continuation_fetches_it(snap: Snapshot) -> None:
    full = resolve_context(snap, ["ops#restart"], level="full", depth=8)
    budget = full.nodes[0].tokens + full.nodes[1].tokens
    part = resolve_context(snap, ["ops#restart"], level="full", depth=8, token_budget=budget)
    assert [n.id for n in part.nodes] == [n.id for n in full.nodes[:2]]
    assert part.omitted == [n.id for n in full.nodes[2:]]
    assert part.total_tokens <= budget
    assert part.omitted_tokens == sum(n.tokens for n in full.nodes[2:])
    cont = part.continuation
    assert cont is not None and cont.follow == [] and cont.token_budget >= part.omitted_tokens
    rest = resolve_context(snap, cont.ids, level=cont.level, follow=cont.follow, depth=cont.depth, token_budget=cont.token_budget)
    assert [n.id for n in rest.nodes] == part.omitted and rest.omitted == []


def test_default_budget_comes_from_config(snap: Snapshot) -> None:
    cfg = ObjectGraphConfig(max_result_tokens=256)
    res = resolve_context(snap, ["ops#restart"], level="full", depth=8, config=cfg)
    assert res.token_budget == 256 and res.omitted == []


def test_since_version_returns_only_changed_nodes_and_the_delta(snap: Snapshot) -> None:
    res = resolve_context(snap, ["ops#restart", "ops#install"], level="dense", follow=[], since_version="1.1", scopes=PUBLIC)
    assert [n.id for n in res.nodes] == ["ops#restart"]
    assert res.unchanged == ["ops#install"]
    [delta] = res.changes
    assert (delta.doc, delta.version, delta.changed) == ("ops", "1.3", ["ops#restart", "ops#health"])
    # the 1.3 entry also names the admin-only node: its id and its summary are withheld
    assert delta.entries[-1] == {"version": "1.3", "date": "2026-03-01", "changed": ["ops#health"]}
    assert delta.entries[0]["summary"] == "Drain first."
    none = resolve_context(snap, ["ops#install"], since_version="1.3")
    assert none.nodes == [] and none.changes[0].entries == []


class _Tools(BaseModel):
    count: int


class _State(BaseModel):
    health: dict[str, bool]
    tools: _Tools


@pytest.mark.parametrize(
    ("state", "attempt", "status"),
    [
        ({"health": {"up": True}, "tools": {"count": 3}}, 1, "pass"),
        (_State(health={"up": True}, tools=_Tools(count=2)), 1, "pass"),
        ({"health": {"up": False}, "tools": {"count": 3}}, 1, "retry"),
        ({"health": {"up": True}, "tools": {"count": 1}}, 2, "escalate"),
        ({"tools": {"count": "many"}}, 2, "escalate"),
    ],
)
def test_assertions_attached_to_resolved_nodes(snap: Snapshot, state: object, attempt: int, status: str) -> None:
    res = resolve_context(snap, ["ops#restart"], follow=[], state=state, attempt=attempt)
    [outcome] = res.assertions
    assert (outcome.id, outcome.target, outcome.status) == ("ops#health", "ops#restart", status)
    if status == "escalate":
        assert outcome.escalate_to == "ops#oncall"
        assert any(not c.passed for c in outcome.checks)


def test_no_state_runs_no_assertions(snap: Snapshot) -> None:
    assert resolve_context(snap, ["ops#restart"], follow=[]).assertions == []


def test_unknown_ids(snap: Snapshot) -> None:
    with pytest.raises(NotFoundError, match="node not found: 'ops#nope'"):
        resolve_context(snap, ["ops#nope"])
    res = resolve_context(snap, ["ops#install", "ops#nope", "install"], follow=[])
    assert [n.id for n in res.nodes] == ["ops#install"] and res.not_found == ["ops#nope"]
    with pytest.raises(ValueError, match="ids is empty"):
        resolve_context(snap, [])
    with pytest.raises(ValueError, match="depth"):
        resolve_context(snap, ["ops#install"], depth=99)


def test_ids_left_out_or_unchanged_are_listed_at_most_one_call_at_a_time() -> None:
    """Every id a budget left out was listed twice (text and continuation), outside the budget: following
    :see-also two levels from one node of 64 x 64 sections under token_budget=1 returned 4,160 ids.
    The lists hold the first MAX_LISTED ids (one resolve_context call's worth) and say how many there are."""
    from ogmux.tools.objectgraph.corpus import build_snapshot
    from ogmux.tools.objectgraph.model import ChangelogEntry, Document, Edge, Node
    from ogmux.tools.objectgraph.render import render_resolve
    from ogmux.tools.objectgraph.resolve import MAX_LISTED

    def node(nid: str, targets: list[str]) -> Node:
        edges = [Edge(kind="see-also", target=t) for t in targets]
        return Node(id=nid, doc="fan", title=nid, dense=f"about {nid}", full=f"## {nid}\n\ntext {nid}\n", edges=edges)

    nodes = [node("root", [f"c{i}" for i in range(64)])]
    nodes += [node(f"c{i}", [f"g{i}-{j}" for j in range(64)]) for i in range(64)]
    nodes += [node(f"g{i}-{j}", []) for i in range(64) for j in range(64)]
    changelog = [ChangelogEntry(version="1.1", date="2026-01-01", changed=["root"], summary="root")]
    snap, _ = build_snapshot([Document(id="fan", title="Fan", version="1.1", nodes=nodes, changelog=changelog)])
    res = resolve_context(snap, ["fan#root"], follow=[":see-also"], depth=2, token_budget=1)
    assert res.omitted_count == 4161 and len(res.omitted) == MAX_LISTED and res.omitted[0] == "fan#root"
    assert res.omitted_tokens == sum(snap.tokens(n, "dense") for n in snap.nodes.values())  # all of them
    cont = res.continuation
    assert cont is not None and cont.ids == res.omitted
    assert cont.token_budget == sum(snap.tokens(snap.nodes[i], "dense") for i in res.omitted)
    text = render_resolve(res)
    assert len(text) < 8_000 and "left out 4161 nodes" in text and "and 4061 more" in text
    delta = resolve_context(snap, ["fan#root"], follow=[":see-also"], depth=2, since_version="1.0")
    assert delta.unchanged_count == 4160 and len(delta.unchanged) == MAX_LISTED and len(render_resolve(delta)) < 8_000
