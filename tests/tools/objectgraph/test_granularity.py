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
    timeline_tokens = sum(count_tokens(doc.get(i).full) for i in ("timeline", "two-months-prior", "day-before"))
    assert [n.id for n in coarsen(doc, timeline_tokens - 1).nodes] == [n.id for n in doc.nodes]
    assert coarsen(doc, 0) is doc
    assert len(coarsen(doc, 100_000).nodes) > 1  # the whole document never becomes one node


def test_declared_and_scoped_nodes_are_never_folded() -> None:
    declared = PLAN.replace("### Day before", "<!-- og:node id=day-before -->\n### Day before")
    doc = parse_document(declared, path="plan.md")
    assert [n.id for n in coarsen(doc, 200).nodes] == [n.id for n in doc.nodes]
    scoped = PLAN.replace("### Day before", "<!-- og:node id=day-before scopes=ops -->\n### Day before")
    doc = parse_document(scoped, path="plan.md")
    served = coarsen(doc, 200).node_map()  # the scoped node stays itself; the rest folds as if it were deleted
    assert "day-before" in served and "two-months-prior" not in served
    assert "Print the name badges" not in served["timeline"].full


def _reader_view(text: str) -> list[tuple[str, str | None, str]]:
    from ogmux.tools.objectgraph.access import effective_scopes, is_visible

    doc = coarsen(parse_document(text, path="guide.md"), 350)
    return [(n.id, n.parent, n.full) for n in doc.nodes if is_visible(effective_scopes(n.scopes), frozenset({"public"}))]


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
    assert "Talks with Acme" not in admin.node_map()["setup"].full and admin.node_map()["merger"].full == HIDDEN.split("-->\n")[1]
