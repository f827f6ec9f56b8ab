"""A document's `matches` patterns and a caller's state cannot make one resolve cost minutes of CPU.

RE2 matches in time linear in the text, times the size of the compiled pattern: `(.+.+){999}` is 200
characters short but compiles to 19,000 instructions, and took 0.38 s on a 10,000-character state value;
an assertion may hold any number of checks and any number of assertions may verify one node. So a pattern
over a compiled-size limit is refused, and one resolve call has a matching budget: checks past it are
not evaluated and say so.
"""

from __future__ import annotations

from pathlib import Path

from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import Corpus
from ogmux.tools.objectgraph.resolve import resolve_context


def _snapshot(tmp_path: Path, pattern: str, checks: int, assertions: int = 1):
    lines = "".join(f'check: x matches "{pattern}"\n' for _ in range(checks))
    nodes = "".join(
        f"<!-- og:node id=check{i} type=assertion scopes=public\n:verifies target\n{lines}-->\n### Check {i}\n\nChecks.\n\n"
        for i in range(assertions)
    )
    text = f"<!-- og:meta id=d version=1.0 -->\n\n<!-- og:node id=target -->\n## Target\n\nText.\n\n{nodes}"
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "d.og").write_text(text, encoding="utf-8")
    return Corpus(tmp_path, ObjectGraphConfig()).snapshot()


def test_a_pattern_over_the_compiled_size_limit_is_refused(tmp_path: Path) -> None:
    snap = _snapshot(tmp_path, "(.+.+){999}", checks=3)
    result = resolve_context(snap, ["d#target"], state={"x": "a" * 10_000})
    details = {c.detail for a in result.assertions for c in a.checks}
    assert len(details) == 1 and not any(c.passed for a in result.assertions for c in a.checks)
    assert details.pop().startswith("pattern refused: it compiles to 18985 RE2 instructions, over the limit of 1000")


def test_checks_past_the_matching_budget_of_a_call_are_not_evaluated(tmp_path: Path) -> None:
    """40 assertions of 40 checks of `(.*a){80}` (884 instructions) on 10,000 characters: 1,600 checks of
    9 ms each. The budget evaluates the first few and names the rest."""
    snap = _snapshot(tmp_path, "(.*a){80}", checks=40, assertions=40)
    result = resolve_context(snap, ["d#target"], state={"x": "a" * 10_000})
    checks = [c for a in result.assertions for c in a.checks]
    assert len(result.assertions) == 40 and len(checks) == 1600
    evaluated = [c for c in checks if c.passed]
    skipped = [c for c in checks if not c.passed]
    assert 1 <= len(evaluated) <= 20 and len(evaluated) + len(skipped) == 1600
    assert {c.detail for c in skipped} == {"not evaluated: this call's pattern-matching budget is spent; resolve fewer nodes"}


def test_a_check_repeats_at_most_a_short_preview_of_the_state_value(tmp_path: Path) -> None:
    """Each check repeated the whole state value it read: 1 MB of state and 40 x 40 checks made one answer
    1.6 GB of text and 1.6 GB of JSON (6 GB of memory, 20 s of CPU)."""
    from ogmux.tools.objectgraph.render import render_resolve

    snap = _snapshot(tmp_path, "b", checks=10, assertions=10)
    state = {"x": "a" * 1_000_000, "y": [list(range(1000))] * 100}
    result = resolve_context(snap, ["d#target"], state=state)
    actual = result.assertions[0].checks[0].actual
    assert actual.startswith("a" * 200) and actual.endswith("… (1,000,000 characters)") and len(actual) < 240
    assert len(render_resolve(result)) < 100_000 and len(result.model_dump_json()) < 100_000
    [nested] = resolve_context(_snapshot(tmp_path / "n", "b", checks=1), ["d#target"], state={"x": state["y"]}).assertions
    assert nested.checks[0].actual.startswith("[[0, 1, 2,") and nested.checks[0].actual.endswith("… (cut)")
    [small] = resolve_context(_snapshot(tmp_path / "s", "b", checks=1), ["d#target"], state={"x": [1, "b"]}).assertions
    assert small.checks[0].actual == [1, "b"]  # short values are shown as they are
