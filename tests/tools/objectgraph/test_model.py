"""The typed model: references, validation bounds, version ordering."""

import pytest
from pydantic import ValidationError

from ogmux.tools.objectgraph.model import Assertion, Check, Edge, Node, parse_ref, version_key


def test_parse_ref_local_and_cross_file():
    assert parse_ref("install", "runbook") == ("runbook", "install")
    assert parse_ref("config#server.port", "runbook") == ("config", "server.port")


@pytest.mark.parametrize("bad", ["", "#x", "a#", "a b", "a#b#c", "-x"])
def test_parse_ref_rejects_malformed(bad):
    with pytest.raises(ValueError):
        parse_ref(bad, "d")


def test_edge_validates_target_and_resolves():
    assert Edge(kind="requires", target="cfg#port").resolve("rb") == ("cfg", "port")
    assert Edge(kind="see-also", target="port").resolve("rb") == ("rb", "port")
    with pytest.raises(ValidationError):
        Edge(kind="requires", target="no spaces")
    with pytest.raises(ValidationError):
        Edge(kind="depends", target="x")


def test_node_bounds_and_ref():
    node = Node(id="a", doc="d", title="A", confidence=0.5)
    assert node.ref == "d#a"
    with pytest.raises(ValidationError):
        Node(id="a", doc="d", title="A", confidence=1.5)
    with pytest.raises(ValidationError):
        Node(id="a b", doc="d", title="A")


def test_assertion_needs_a_check_and_known_op():
    with pytest.raises(ValidationError):
        Assertion(checks=[])
    with pytest.raises(ValidationError):
        Check(path="a.b", op="approx", value=1)
    a = Assertion(
        checks=[Check(path="health.status", op="eq", value="ok")], retries=2, escalate_to="role:ops"
    )
    assert a.retries == 2


def test_version_key_orders_numerically():
    assert sorted(["1.10", "1.2", "1.9.1"], key=version_key) == ["1.2", "1.9.1", "1.10"]


def test_scopes_use_id_syntax():
    with pytest.raises(ValidationError):
        Node(id="a", doc="d", title="A", scopes=["ops team"])
    assert Node(id="a", doc="d", title="A", scopes=["ops", "team.a"]).scopes == ["ops", "team.a"]
