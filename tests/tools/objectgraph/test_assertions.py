"""evaluate_assertion: every check operator, missing paths, refused patterns, retry/escalate, no code execution."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from ogmux.tools.objectgraph.assertions import AssertionOutcome, CheckOutcome, evaluate_assertion
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import Corpus
from ogmux.tools.objectgraph.snapshot import AssertionRecord


def _record(*checks: dict[str, Any], retries: int = 0, escalate: str | None = None) -> AssertionRecord:
    return AssertionRecord(checks=tuple(checks), retries=retries, escalate=escalate)


def _check(path: str, op: str, value: Any = None, state: Any = None) -> CheckOutcome:
    check: dict[str, Any] = {"path": path, "op": op}
    if value is not None:
        check["value"] = value
    [outcome] = evaluate_assertion("doc#a", _record(check), state).checks
    return outcome


STATE = {
    "health": {"status": "ok", "replicas": 2, "load": 0.5},
    "config": {"transport": "stdio"},
    "version": "0.14.2",
    "replicas": [{"url": "http://a"}, {"url": "http://b"}],
    "incident": {"open": None},
}


@pytest.mark.parametrize(
    ("path", "op", "value", "passed"),
    [
        ("health.status", "eq", "ok", True),
        ("health.status", "eq", "degraded", False),
        ("health.status", "ne", "degraded", True),
        ("health.status", "ne", "ok", False),
        ("health.replicas", "lt", 3, True),
        ("health.replicas", "lt", 2, False),
        ("health.replicas", "le", 2, True),
        ("health.replicas", "le", 1, False),
        ("health.load", "gt", 0.25, True),
        ("health.load", "gt", 0.5, False),
        ("health.replicas", "ge", 2, True),
        ("health.replicas", "ge", 3, False),
        ("config.transport", "in", ["stdio", "http"], True),
        ("config.transport", "in", ["http"], False),
        ("version", "matches", r"^0\.[0-9]+", True),
        ("version", "matches", r"^1\.", False),
        ("health.replicas", "matches", "^2$", True),
        ("replicas.1.url", "eq", "http://b", True),
        ("replicas.0.url", "eq", "http://b", False),
        ("incident.open", "eq", None, True),
    ],
)
def test_operators_pass_and_fail(path: str, op: str, value: Any, passed: bool) -> None:
    outcome = _check(path, op, value, STATE)
    assert (outcome.path, outcome.op, outcome.expected, outcome.passed) == (path, op, value, passed)
    assert outcome.detail == ""


@pytest.mark.parametrize(
    ("path", "value", "passed"),
    [
        ("health.status", None, True),
        ("health.missing", None, False),
        ("health.status", True, True),
        ("health.missing", True, False),
        ("incident.open", True, True),
        ("health.missing", False, True),
        ("health.status", False, False),
        ("incident.open", False, False),
    ],
)
def test_exists_true_and_false(path: str, value: bool | None, passed: bool) -> None:
    assert _check(path, "exists", value, STATE).passed is passed


@pytest.mark.parametrize(
    ("op", "value"),
    [
        ("eq", None),
        ("eq", "ok"),
        ("ne", "ok"),
        ("lt", 1),
        ("le", 1),
        ("gt", 1),
        ("ge", 1),
        ("in", ["ok"]),
        ("matches", ".*"),
        ("exists", True),
    ],
)
def test_missing_path_fails_every_operator_but_exists_false(op: str, value: Any) -> None:
    for path in ("nope", "health.nope", "health.status.deeper", "replicas.5.url", "replicas.x"):
        outcome = _check(path, op, value, STATE)
        assert not outcome.passed, (path, op)
        assert outcome.actual is None
    assert "not present" in _check("nope", "eq", "ok", STATE).detail


def test_path_reaches_model_fields_only() -> None:
    class Inner(BaseModel):
        status: str

    class State(BaseModel):
        health: Inner

    state = State(health=Inner(status="ok"))
    assert _check("health.status", "eq", "ok", state).passed
    whole = _check("health", "exists", None, state)
    assert whole.passed and whole.actual == {"status": "ok"}
    for path in ("__class__", "health.__dict__", "model_config", "health.model_dump"):
        assert _check(path, "exists", False, state).passed, path
    assert _check("__class__", "exists", False, object()).passed


@pytest.mark.parametrize(
    ("actual", "op", "value"),
    [("3", "eq", 3), ("3", "lt", 4), (None, "gt", 0), ([1], "ge", 1), ({"a": 1}, "le", 2)],
)
def test_mismatched_types_fail(actual: Any, op: str, value: Any) -> None:
    outcome = _check("x", op, value, {"x": actual})
    assert not outcome.passed


@pytest.mark.parametrize(("actual", "op", "value"), [(True, "eq", 1), (1, "in", [True]), (True, "ge", 1), (1, "ne", True)])
def test_booleans_are_not_numbers(actual: Any, op: str, value: Any) -> None:
    assert not _check("x", op, value, {"x": actual}).passed


def test_in_needs_a_list_and_unknown_operators_fail() -> None:
    outcome = _check("config.transport", "in", "stdio", STATE)
    assert not outcome.passed and "list" in outcome.detail
    outcome = _check("config.transport", "is", "stdio", STATE)
    assert not outcome.passed and "unknown operator" in outcome.detail


@pytest.mark.parametrize("pattern", [42, "a" * 201])
def test_patterns_that_are_no_strings_or_too_long_are_refused(pattern: Any) -> None:
    outcome = _check("s", "matches", pattern, {"s": "aaaa"})
    assert not outcome.passed and "refused" in outcome.detail


# Catastrophic for a backtracking engine: Python's `re` would not finish these on 5,000
# characters in any reasonable time; RE2 answers in linear time.
@pytest.mark.parametrize(
    ("pattern", "bad", "good"),
    [
        ("(a+)+$", "a" * 5000 + "!", "xaaa"),
        ("((a+))+$", "a" * 5000 + "!", "xaaa"),
        ("((a+)b?)+$", "a" * 5000 + "!", "aab"),
        ("(a*)*b", "a" * 5000, "aab"),
        ("(x+x+)+y", "x" * 5000, "xxy"),
        (r"(\w+\s?)+$", "ab " * 1500 + "!", "ab cd"),
    ],
)
def test_nested_quantifiers_run_in_linear_time(pattern: str, bad: str, good: str) -> None:
    outcome = _check("s", "matches", pattern, {"s": bad})
    assert not outcome.passed and outcome.detail == ""
    assert _check("s", "matches", pattern, {"s": good}).passed


def test_backtracking_only_constructs_are_invalid_patterns() -> None:
    for pattern in (r"(a)\1", "a(?=b)", "(?<!x)a"):
        outcome = _check("s", "matches", pattern, {"s": "aab"})
        assert not outcome.passed and "invalid pattern" in outcome.detail and "RE2" in outcome.detail


def test_safe_patterns_are_used_and_invalid_ones_reported() -> None:
    assert _check("s", "matches", "(ab)+c", {"s": "ababc"}).passed
    assert _check("s", "matches", "a+b", {"s": "xaab"}).passed
    outcome = _check("s", "matches", "(unclosed", {"s": "x"})
    assert not outcome.passed and "invalid pattern" in outcome.detail


FAILING = {"health": {"status": "down"}}
PASSING = {"health": {"status": "ok"}}
STATUS_OK = {"path": "health.status", "op": "eq", "value": "ok"}


@pytest.mark.parametrize(
    ("retries", "escalate", "attempt", "status"),
    [
        (0, None, 1, "fail"),
        (0, "role:oncall", 1, "escalate"),
        (2, "ops#oncall", 1, "retry"),
        (2, "ops#oncall", 2, "retry"),
        (2, "ops#oncall", 3, "escalate"),
        (2, "ops#oncall", 7, "escalate"),
        (2, None, 2, "retry"),
        (2, None, 3, "fail"),
    ],
)
def test_failure_retries_then_escalates_or_fails(
    retries: int, escalate: str | None, attempt: int, status: str
) -> None:
    spec = _record(STATUS_OK, retries=retries, escalate=escalate)
    outcome = evaluate_assertion("ops#health", spec, FAILING, attempt=attempt, target="ops#restart")
    assert isinstance(outcome, AssertionOutcome)
    assert (outcome.id, outcome.target, outcome.status) == ("ops#health", "ops#restart", status)
    assert (outcome.attempt, outcome.retries) == (attempt, retries)
    assert outcome.escalate_to == (escalate if status == "escalate" else None)
    [check] = outcome.checks
    assert not check.passed and check.actual == "down"


@pytest.mark.parametrize("attempt", [1, 3, 50])
def test_passing_state_passes_on_any_attempt(attempt: int) -> None:
    outcome = evaluate_assertion(
        "d#a", _record(STATUS_OK, retries=2, escalate="role:oncall"), PASSING, attempt=attempt
    )
    assert outcome.status == "pass" and outcome.escalate_to is None and outcome.target is None


def test_one_failing_check_fails_the_assertion_and_every_check_is_reported() -> None:
    spec = _record(
        STATUS_OK,
        {"path": "health.replicas", "op": "ge", "value": 1},
        {"path": "incident", "op": "exists", "value": False},
    )
    outcome = evaluate_assertion("d#a", spec, {"health": {"status": "ok", "replicas": 0}})
    assert outcome.status == "fail"
    assert [c.passed for c in outcome.checks] == [True, False, True]
    assert [c.path for c in outcome.checks] == ["health.status", "health.replicas", "incident"]
    assert evaluate_assertion("d#a", spec, {"health": {"status": "ok", "replicas": 1}}).status == "pass"


CODE = "__import__('pathlib').Path({marker!r}).write_text('ran')"

DOC = """<!-- og:meta id=ops title="Ops" version=1.0 -->

<!-- og:node id=guard type=assertion retries=1 escalate=role:oncall
check: cmd eq "{code}"
check: cmd matches "__import__"
check: {code_path} exists false
-->
## Guard

Nothing here runs.
"""


def test_document_check_values_are_data_not_code(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    code = CODE.format(marker=str(marker))
    (tmp_path / "docs").mkdir()
    text = DOC.format(code=code.replace('"', '\\"'), code_path="os.system")
    (tmp_path / "docs" / "ops.og").write_text(text, encoding="utf-8")
    snap = Corpus(tmp_path / "docs", ObjectGraphConfig(reload=False)).snapshot()
    spec = snap.nodes["ops#guard"].assertion
    assert spec is not None and spec.checks[0]["value"] == code

    outcome = evaluate_assertion("ops#guard", spec, {"cmd": code})
    assert outcome.status == "pass"
    assert evaluate_assertion("ops#guard", spec, {"cmd": "ran"}, attempt=2).status == "escalate"
    for value in (code, "ran", None):
        evaluate_assertion("ops#guard", spec, {"cmd": value, "os": {"system": 1}})
    assert not marker.exists()

    lookalike = _check("cmd", "eq", "1 + 1", {"cmd": 2})
    assert not lookalike.passed and lookalike.expected == "1 + 1"
