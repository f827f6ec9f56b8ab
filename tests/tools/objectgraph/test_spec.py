"""The specification's worked example is what the transpiler really produces, and the spec parses."""

import re
from pathlib import Path

from ogmux.tools.objectgraph.parser import load_path, parse_document
from ogmux.tools.objectgraph.transpile import transpile_text

SPEC = Path(__file__).resolve().parents[3] / "docs" / "objectgraph.md"


def _examples() -> list[str]:
    return re.findall(r"````markdown\n(.*?)````", SPEC.read_text(encoding="utf-8"), re.DOTALL)


def test_worked_example_matches_the_transpiler():
    source, transpiled, edited = _examples()
    og_text, _ = transpile_text(source, path="restart.md")
    assert og_text == transpiled
    doc = parse_document(transpiled)
    assert [(n.id, n.type, n.parent) for n in doc.nodes] == [
        ("restarting", "concept", None),
        ("steps", "steps", "restarting"),
    ]
    changed = parse_document(edited, doc_id="restart")
    steps, healthy = changed.nodes
    assert steps.scopes == ["ops"] and steps.edges[0].resolve("restart") == ("ogmux-config", "server-port")
    assert healthy.assertion.escalate_to == "role:oncall" and healthy.parent == "steps"


def test_spec_is_itself_a_valid_document():
    doc = load_path(SPEC)
    assert doc.title.startswith("ObjectGraph") and len(doc.nodes) > 10
    assert doc.body() == SPEC.read_text(encoding="utf-8")
