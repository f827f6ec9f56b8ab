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
    assert {"timeline", "two-months-prior", "day-before"} <= {n.id for n in coarsen(doc, 200).nodes}
