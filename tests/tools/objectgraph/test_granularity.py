"""Serving granularity: small plain-Markdown section trees become one node; authored nodes never change."""

from __future__ import annotations

from ogmux.tools.objectgraph.granularity import coarsen
from ogmux.tools.objectgraph.parser import parse_document
from ogmux.tools.objectgraph.tokens import count_tokens

PLAN = """# AGM plan

How the meeting is organised.

## Timeline

### Two months prior

Book the venue and send the invitations.

### Day before

Print the name badges.

## Budget

The budget covers travel for every maintainer who asks for it, food on the day, and the venue.
"""


def test_a_small_section_and_its_subsections_become_one_node() -> None:
    doc = parse_document(PLAN, path="plan.md")
    folded = coarsen(doc, 200)
    assert [n.id for n in folded.nodes] == ["agm-plan", "timeline", "budget"]
    timeline = folded.get("timeline")
    original = doc.node_map()
    assert timeline.full == "".join(original[i].full for i in ("timeline", "two-months-prior", "day-before"))
    assert timeline.full in PLAN and timeline.children == []
    assert timeline.line_end == original["day-before"].line_end
    assert "badges" in " ".join(timeline.keywords) + timeline.dense  # metadata derived from the folded text
    assert folded.get("agm-plan").children == ["timeline", "budget"]
    assert all(s.node_id in {None, "agm-plan", "timeline", "budget"} for s in folded.layout)


def test_sections_above_the_limit_and_whole_documents_stay_as_they_are() -> None:
    doc = parse_document(PLAN, path="plan.md")
    timeline_tokens = sum(
        count_tokens(doc.get(i).full) for i in ("timeline", "two-months-prior", "day-before")
    )
    assert [n.id for n in coarsen(doc, timeline_tokens - 1).nodes] == [n.id for n in doc.nodes]
    assert coarsen(doc, 0) is doc
    assert len(coarsen(doc, 100_000).nodes) > 1  # the whole document never becomes one node


def test_declared_and_scoped_nodes_are_never_folded() -> None:
    declared = PLAN.replace("### Day before", "<!-- og:node id=day-before -->\n### Day before")
    doc = parse_document(declared, path="plan.md")
    assert [n.id for n in coarsen(doc, 200).nodes] == [n.id for n in doc.nodes]
    scoped = PLAN.replace("### Day before", "<!-- og:node id=day-before scopes=ops -->\n### Day before")
    doc = parse_document(scoped, path="plan.md")
    # the scoped node stays itself; the rest folds as if it were deleted
    served = coarsen(doc, 200).node_map()
    assert "day-before" in served and "two-months-prior" not in served
    assert "Print the name badges" not in served["timeline"].full


def _reader_view(text: str) -> list[tuple[str, str | None, str]]:
    from ogmux.tools.objectgraph.access import effective_scopes, is_visible

    doc = coarsen(parse_document(text, path="guide.md"), 350)
    return [
        (n.id, n.parent, n.full)
        for n in doc.nodes
        if is_visible(effective_scopes(n.scopes), frozenset({"public"}))
    ]


HIDDEN = "<!-- og:node id=merger scopes=admin -->\n### Merger\n\nTalks with Acme.\n\n"


def test_folding_is_decided_as_if_hidden_sections_were_deleted() -> None:
    """A hidden subsection stopped its public section from folding, and a hidden top-level section made
    a public tree short of the whole document: a reader could tell a hidden section was there."""
    below = "# Guide\n\nIntro.\n\n## Setup\n\nSetup text.\n\n### Install\n\nInstall text.\n\n{}## Other\n\nOther text.\n"
    assert _reader_view(below.format(HIDDEN)) == _reader_view(below.format(""))
    assert [i for i, _, _ in _reader_view(below.format(HIDDEN))] == ["guide", "setup", "other"]
    beside = "# Guide\n\nIntro.\n\n## Setup\n\nSetup text.\n\n### Install\n\nInstall text.\n\n{}"
    top = HIDDEN.replace("### Merger", "# Merger")
    assert _reader_view(beside.format(top)) == _reader_view(beside.format(""))
    admin = coarsen(parse_document(below.format(HIDDEN), path="guide.md"), 350)
    assert (
        "Talks with Acme" not in admin.node_map()["setup"].full
        and admin.node_map()["merger"].full == HIDDEN.split("-->\n")[1]
    )


NESTED = (
    "# Guide\n\nIntro.\n\n## Setup\n\nSetup text.\n\n{note}### Install\n\nInstall text.\n\n{merger}"
    "##### Details\n\nDetails text.\n\n## Other\n\nOther text.\n"
)
NOTE = "<!-- og:node id=note scopes=admin -->\n### Note\n\nAdmin note.\n\n"
MERGER = "<!-- og:node id=merger scopes=admin -->\n#### Merger\n\nTalks with Acme.\n\n"


def _served(text: str, caller: frozenset[str]) -> list[tuple[str, str | None, tuple[str, ...], str]]:
    from ogmux.tools.objectgraph.access import is_visible
    from ogmux.tools.objectgraph.corpus import build_snapshot

    snap, _ = build_snapshot([coarsen(parse_document(text, path="guide.md"), 350)])
    return [
        (r.id, r.parent, r.heading_path, r.full) for r in snap.nodes.values() if is_visible(r.scopes, caller)
    ]


def test_nodes_left_under_a_folded_section_hang_from_the_node_that_took_it_in() -> None:
    """A hidden subsection of a folded-away section kept that section's id as its parent: the parent
    no longer existed and its heading path lost every ancestor."""
    text = NESTED.format(note=NOTE, merger=MERGER)
    doc = parse_document(text, path="guide.md")
    assert doc.get("merger").parent == "install" and doc.get("details").parent == "install"
    folded = coarsen(doc, 350)
    served = folded.node_map()
    assert list(served) == ["guide", "setup", "note", "merger", "other"]
    assert "Details text" in served["setup"].full  # the public child of the folded section went with it
    assert served["merger"].parent == "setup" and served["note"].parent == "setup"
    assert served["setup"].children == ["note", "merger"]
    assert all(n.parent in served for n in folded.nodes if n.parent is not None)
    admin = {i: (parent, path) for i, parent, path, _ in _served(text, frozenset({"admin"}))}
    assert admin["guide#merger"] == ("guide#setup", ("Guide", "Setup"))
    assert admin["guide#note"] == ("guide#setup", ("Guide", "Setup"))


def test_a_reader_is_served_a_folded_section_as_if_its_hidden_subsections_were_deleted() -> None:
    public = frozenset({"public"})
    bare = _served(NESTED.format(note="", merger=""), public)
    assert [i for i, *_ in bare] == ["guide#guide", "guide#setup", "guide#other"]
    for note, merger in ((NOTE, ""), ("", MERGER), (NOTE, MERGER)):
        assert _served(NESTED.format(note=note, merger=merger), public) == bare
