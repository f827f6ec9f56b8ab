"""Declarative assertion checks run against a caller-supplied `state`; document text is never executed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal

import re2
from pydantic import BaseModel

from ogmux.tools.objectgraph.snapshot import AssertionRecord

__all__ = ["AssertionOutcome", "CheckOutcome", "MatchBudget", "evaluate_assertion"]

Status = Literal["pass", "fail", "retry", "escalate"]
_MISSING = object()
_MAX_PATTERN = 200
_MAX_SUBJECT = 10_000
# Patterns come from documents, so they run on RE2: matching time is linear in the text, whatever
# the pattern (a backtracking engine takes exponential time on patterns such as ((a+))+$).
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


class CheckOutcome(BaseModel):
    """One check: where it looked, what it expected, what it found."""

    path: str
    op: str
    expected: Any = None
    actual: Any = None
    passed: bool
    detail: str = ""


class AssertionOutcome(BaseModel):
    """The verdict of one assertion node for this attempt."""

    id: str
    target: str | None = None
    status: Status
    attempt: int
    retries: int
    escalate_to: str | None = None
    checks: list[CheckOutcome]


def _lookup(state: Any, path: str) -> Any:
    cur = state
    for part in path.split("."):
        if isinstance(cur, Mapping):
            cur = cur.get(part, _MISSING)
        elif isinstance(cur, (list, tuple)) and part.isdigit():
            i = int(part)
            cur = cur[i] if i < len(cur) else _MISSING
        elif isinstance(cur, BaseModel) and part in type(cur).model_fields:
            cur = getattr(cur, part)
        else:
            return _MISSING
        if cur is _MISSING:
            return _MISSING
    return cur


def _kind(v: Any) -> str:
    """The JSON type of `v` (booleans are not numbers, unlike in Python)."""
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if v is None:
        return "null"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (list, tuple)):
        return "array"
    return "object" if isinstance(v, Mapping) else type(v).__name__


# Matching costs about (compiled instructions x text length) steps: `(.+.+){999}` is 11 characters
# short of the pattern limit and compiles to 18,985 instructions (0.38 s on 10,000 characters).
_MAX_PROGRAM = 1000
_MATCH_UNITS = 20_000_000  # instructions x characters one resolve call may match (~0.1 s of CPU)
_SPENT = "not evaluated: this call's pattern-matching budget is spent; resolve fewer nodes"


class MatchBudget:
    """What one resolve call may still spend on `matches` checks: any number of checks and assertions may
    apply to the nodes of one call, so their sum is bounded, not only each one."""

    def __init__(self, units: int = _MATCH_UNITS):
        self.left = units


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> Any:
    """The compiled pattern, or why it is refused (cached either way: compiling a refused one took 45 ms)."""
    try:
        regex = re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return f"invalid pattern ({reason}; RE2 syntax: no backreferences or lookaround)"
    if regex.programsize > _MAX_PROGRAM:
        return (
            f"pattern refused: it compiles to {regex.programsize} RE2 instructions, over the limit of "
            f"{_MAX_PROGRAM}; use fewer or smaller repetitions"
        )
    return regex


def _matches(pattern: str, actual: Any, budget: MatchBudget | None) -> tuple[bool, str]:
    regex = _regex(pattern)
    if isinstance(regex, str):
        return False, regex
    subject = str(actual)[:_MAX_SUBJECT]
    cost = regex.programsize * max(len(subject), 1)
    if budget is not None:
        if cost > budget.left:
            return False, _SPENT
        budget.left -= cost
    return regex.search(subject) is not None, ""


def _compare(op: str, actual: Any, expected: Any, budget: MatchBudget | None = None) -> tuple[bool, str]:
    if op == "exists":
        present = actual is not _MISSING
        return (present if expected is not False else not present), ""
    if actual is _MISSING:
        return False, "path not present in state"
    if op in ("eq", "ne", "lt", "le", "gt", "ge") and _kind(actual) != _kind(expected):
        return False, f"cannot compare {_kind(actual)} with {_kind(expected)}"
    try:
        if op == "eq":
            return actual == expected, ""
        if op == "ne":
            return actual != expected, ""
        if op == "lt":
            return actual < expected, ""
        if op == "le":
            return actual <= expected, ""
        if op == "gt":
            return actual > expected, ""
        if op == "ge":
            return actual >= expected, ""
        if op == "in":
            if not isinstance(expected, (list, tuple)):
                return False, "'in' needs a list value"
            return any(_kind(e) == _kind(actual) and e == actual for e in expected), ""
        if op == "matches":
            if not isinstance(expected, str) or len(expected) > _MAX_PATTERN:
                return False, f"pattern refused (not a string, or longer than {_MAX_PATTERN} characters)"
            return _matches(expected, actual, budget)
    except TypeError:
        return False, f"cannot compare {type(actual).__name__} with {type(expected).__name__}"
    return False, f"unknown operator {op!r}"


def evaluate_assertion(
    node_id: str,
    spec: AssertionRecord,
    state: Any,
    attempt: int = 1,
    target: str | None = None,
    budget: MatchBudget | None = None,
) -> AssertionOutcome:
    """Run every check of `spec` on `state`; on failure, `retry` while attempts remain, then `escalate` or `fail`.

    `budget` is shared by the assertions of one call; a `matches` check past it fails as not evaluated.
    """
    outcomes = []
    for check in spec.checks:
        path, op, expected = str(check["path"]), str(check["op"]), check.get("value")
        actual = _lookup(state, path)
        ok, detail = _compare(op, actual, expected, budget)
        outcomes.append(
            CheckOutcome(
                path=path,
                op=op,
                expected=_echo(expected),
                actual=None if actual is _MISSING else _echo(actual),
                passed=ok,
                detail=detail,
            )
        )
    if all(o.passed for o in outcomes):
        status: Status = "pass"
    elif attempt <= spec.retries:
        status = "retry"
    elif spec.escalate:
        status = "escalate"
    else:
        status = "fail"
    return AssertionOutcome(
        id=node_id,
        target=target,
        status=status,
        attempt=attempt,
        retries=spec.retries,
        escalate_to=spec.escalate if status == "escalate" else None,
        checks=outcomes,
    )


_MAX_ECHO = 200  # characters of a value a check outcome repeats


def _echo(value: Any) -> Any:
    """`value` as a check outcome repeats it: as it is when its JSON is short, else the start of it and how
    long it is (a 1 MB state value was repeated by every check: 40 x 40 checks made one answer 1.6 GB)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value if len(value) <= _MAX_ECHO else f"{value[:_MAX_ECHO]}… ({len(value):,} characters)"
    shown = ""
    try:
        for chunk in json.JSONEncoder(default=_jsonable).iterencode(value):  # lazy: stops at the first 200
            shown += chunk
            if len(shown) > _MAX_ECHO:
                return f"{shown[:_MAX_ECHO]}… (cut)"
    except (TypeError, ValueError):  # keys JSON cannot hold, or a cycle: only from in-process callers
        return repr(value)[:_MAX_ECHO]
    return _jsonable(value)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)[:200]
