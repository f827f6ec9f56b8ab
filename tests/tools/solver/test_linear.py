"""solve_milp with real HiGHS: known optima, duals, infeasible (IIS), unbounded, malformed, files, limits."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ogmux.tools.solver import (
    Constraint,
    LinearModel,
    MilpResult,
    ModelError,
    SizeLimitError,
    SolveLimits,
    SolverConfig,
    Variable,
    solve_milp,
    solve_milp_file,
    solve_milp_text,
)
from tests.tools.solver.conftest import market_split


def _lp() -> LinearModel:
    # max 3x + 2y  s.t. x + y <= 4, x + 3y <= 7, x <= 3  ->  x = 3, y = 1, objective 11
    return LinearModel(
        variables=[Variable(name="x"), Variable(name="y")],
        constraints=[
            Constraint(name="c1", terms={"x": 1, "y": 1}, sense="<=", rhs=4),
            Constraint(name="c2", terms={"x": 1, "y": 3}, sense="<=", rhs=7),
            Constraint(name="c3", terms={"x": 1}, sense="<=", rhs=3),
        ],
        objective={"x": 3, "y": 2},
        sense="maximize",
    )


def test_lp_optimum_duals_and_reduced_costs() -> None:
    r = solve_milp(_lp())
    assert r.status == "optimal" and r.solution_kind == "optimal" and not r.is_mip
    assert r.objective == pytest.approx(11.0)
    assert r.values == pytest.approx({"x": 3.0, "y": 1.0})
    # d objective / d rhs: the two binding constraints carry the whole objective gradient
    assert r.duals == pytest.approx({"c1": 2.0, "c2": 0.0, "c3": 1.0}, abs=1e-9)
    assert r.reduced_costs == pytest.approx({"x": 0.0, "y": 0.0}, abs=1e-9)


def test_lp_duals_match_finite_differences() -> None:
    base = solve_milp(_lp())
    for name in ("c1", "c3"):
        m = _lp()
        next(c for c in m.constraints if c.name == name).rhs += 1e-3
        assert (solve_milp(m).objective - base.objective) / 1e-3 == pytest.approx(base.duals[name], rel=1e-6)


def test_knapsack_milp_known_optimum() -> None:
    values, weights = [10, 13, 7, 8], [3, 4, 2, 3]
    m = LinearModel(
        variables=[Variable(name=f"i{k}", type="binary") for k in range(4)],
        constraints=[
            Constraint(name="cap", terms={f"i{k}": w for k, w in enumerate(weights)}, sense="<=", rhs=7)
        ],
        objective={f"i{k}": v for k, v in enumerate(values)},
        sense="maximize",
    )
    r = solve_milp(m)
    assert r.is_mip and r.status == "optimal"
    assert r.objective == pytest.approx(23.0) and r.bound == pytest.approx(23.0, rel=1e-4)
    assert r.values == pytest.approx({"i0": 1, "i1": 1, "i2": 0, "i3": 0}, abs=1e-6)
    assert r.duals is None and r.gap is not None and r.gap <= 1e-4


def test_infeasible_lp_reports_an_irreducible_subset() -> None:
    m = LinearModel(
        variables=[Variable(name="x", upper=3), Variable(name="y", upper=3), Variable(name="z", upper=5)],
        constraints=[
            Constraint(name="need", terms={"x": 1, "y": 1}, sense=">=", rhs=10),
            Constraint(name="harmless", terms={"z": 1}, sense="<=", rhs=4),
        ],
        objective={"x": 1},
    )
    r = solve_milp(m)
    assert r.status == "infeasible" and r.solution_kind == "none" and r.values is None
    names = {(e.kind, e.name) for e in r.iis}
    assert ("constraint", "need") in names and ("constraint", "harmless") not in names
    assert {("variable_bound", "x"), ("variable_bound", "y")} <= names


def test_infeasible_milp_gives_iis_of_relaxation() -> None:
    m = LinearModel(
        variables=[Variable(name="b", type="binary"), Variable(name="x", upper=1)],
        constraints=[Constraint(name="too_much", terms={"b": 1, "x": 1}, sense=">=", rhs=3)],
        objective={"b": 1},
    )
    r = solve_milp(m)
    assert r.status == "infeasible" and r.iis_of_relaxation
    assert ("constraint", "too_much") in {(e.kind, e.name) for e in r.iis}


def test_unbounded_lp() -> None:
    m = LinearModel(
        variables=[Variable(name="x"), Variable(name="y")],
        constraints=[Constraint(name="c", terms={"x": 1, "y": -1}, sense="<=", rhs=1)],
        objective={"x": 1, "y": 1},
        sense="maximize",
    )
    r = solve_milp(m)
    assert r.status == "unbounded" and r.solution_kind == "none" and r.objective is None
    assert "unbounded" in r.message


def test_unbounded_milp_is_told_apart_from_infeasible() -> None:
    # presolve alone answers "infeasible or unbounded" for both of these MILPs
    m = LinearModel(
        variables=[Variable(name="x", type="integer"), Variable(name="y")],
        constraints=[Constraint(name="c", terms={"x": 1, "y": -1}, sense="<=", rhs=1)],
        objective={"x": 1, "y": 1},
        sense="maximize",
    )
    r = solve_milp(m)
    assert r.is_mip and r.status == "unbounded" and r.solution_kind == "none" and r.values is None
    assert "unbounded" in r.message


def test_infeasible_milp_with_an_unbounded_direction() -> None:
    # x1 - x2 >= 1 and x2 - x1 >= 1 contradict each other, while y alone could grow without limit
    m = LinearModel(
        variables=[
            Variable(name="x1", type="integer", lower=None),
            Variable(name="x2", type="integer", lower=None),
            Variable(name="y", lower=None),
        ],
        constraints=[
            Constraint(name="a", terms={"x1": 1, "x2": -1}, sense=">=", rhs=1),
            Constraint(name="b", terms={"x1": -1, "x2": 1}, sense=">=", rhs=1),
        ],
        objective={"y": 1},
        sense="maximize",
    )
    r = solve_milp(m)
    assert r.is_mip and r.status == "infeasible" and r.solution_kind == "none"
    assert "infeasible" in r.message
    assert r.iis_of_relaxation == (r.iis is not None)


def _assert_labelled_best_found(r: MilpResult, model: LinearModel, status: str) -> None:
    assert r.status == status and r.solution_kind == "best_found_at_limit"
    assert "NOT proven optimal" in r.message and "`bound` is the best proven bound" in r.message
    # `values` is a feasible point whose objective is `objective`, and `bound` is a valid lower bound
    for c in model.constraints:
        assert sum(coef * r.values[v] for v, coef in c.terms.items()) == pytest.approx(c.rhs, abs=1e-6)
    assert all(-1e-9 <= r.values[f"x{j}"] <= 1 + 1e-9 for j in range(30))
    assert r.objective == pytest.approx(sum(coef * r.values[v] for v, coef in model.objective.items()))
    assert r.bound is not None and -1e-9 <= r.bound <= r.objective
    assert r.gap == pytest.approx(abs(r.objective - r.bound) / abs(r.objective))


def test_node_limit_returns_the_best_solution_labelled_with_a_bound() -> None:
    model = market_split(seed=0)
    r = solve_milp(model, SolveLimits(node_limit=1))
    _assert_labelled_best_found(r, model, "node_limit")
    assert r.nodes == 1 and r.gap > 0


def test_time_limit_returns_the_best_solution_labelled_with_a_bound() -> None:
    # HiGHS has a solution within milliseconds but still has a gap after 20 s on this model,
    # so 1 s ends at the time limit with a solution, also on a loaded machine
    model = market_split(seed=1)
    r = solve_milp(model, SolveLimits(time_limit_s=1.0))
    _assert_labelled_best_found(r, model, "time_limit")


@pytest.mark.parametrize(
    ("model", "needle"),
    [
        ({"variables": [{"name": "x"}], "objective": {"y": 1}}, "unknown variable 'y'"),
        ({"variables": [{"name": "x"}, {"name": "x"}]}, "used twice"),
        ({"variables": [{"name": "x", "lower": 2, "upper": 1}]}, "lower bound 2.0 > upper bound 1.0"),
        (
            {
                "variables": [{"name": "x"}],
                "constraints": [{"name": "c", "terms": {"x": math.nan}, "sense": "<=", "rhs": 1}],
            },
            "must be finite",
        ),
        (
            {
                "variables": [{"name": "x"}],
                "constraints": [{"name": "c", "terms": {"q": 1}, "sense": "<=", "rhs": 1}],
            },
            "unknown variable 'q'",
        ),
    ],
)
def test_malformed_models_are_refused_with_the_reason(model: dict, needle: str) -> None:
    with pytest.raises(ModelError, match=needle.replace("(", r"\(")):
        solve_milp(LinearModel.model_validate(model))


def test_size_limit() -> None:
    m = LinearModel(variables=[Variable(name=f"v{i}") for i in range(11)])
    with pytest.raises(SizeLimitError, match="max_variables"):
        solve_milp(m, config=SolverConfig(max_variables=10))


MPS = """NAME          TINY
ROWS
 N  COST
 L  LIM1
 G  LIM2
COLUMNS
    MARKER                 'MARKER'                 'INTORG'
    X         COST         -1.0   LIM1         1.0
    X         LIM2         1.0
    MARKER                 'MARKER'                 'INTEND'
    Y         COST         -2.0   LIM1         1.0
RHS
    RHS       LIM1         3.5   LIM2         1.0
BOUNDS
 UP BND       X            4.0
 UP BND       Y            1.0
ENDATA
"""


def test_mps_file_with_integer_column(tmp_path: Path) -> None:
    path = tmp_path / "tiny.mps"
    path.write_text(MPS)
    r = solve_milp_file(path)
    # min -x - 2y, x + y <= 3.5, x >= 1, x integer <= 4, y <= 1  ->  x = 2, y = 1 (x = 3 would need y = 0.5)
    assert r.is_mip and r.status == "optimal"
    assert r.objective == pytest.approx(-4.0) and r.values["X"] == pytest.approx(2.0)


def test_lp_file_and_bad_files(tmp_path: Path) -> None:
    good = tmp_path / "m.lp"
    good.write_text("Maximize\n obj: x + y\nSubject To\n c1: x + 2 y <= 4\nBounds\n x <= 3\nEnd\n")
    r = solve_milp_file(good)
    assert r.status == "optimal" and r.objective == pytest.approx(3.5)
    bad = tmp_path / "bad.mps"
    bad.write_text("this is not MPS at all\n")
    with pytest.raises(ModelError, match="could not read"):
        solve_milp_file(bad)
    with pytest.raises(ModelError, match="unsupported file type"):
        solve_milp_file(tmp_path / "m.txt")


def test_row_only_conflict_has_an_irreducible_subset() -> None:
    # x + y >= 10 against x <= 3 and y <= 4 written as constraints: HiGHS's light test sees no bound clash
    m = LinearModel(
        variables=[Variable(name="x"), Variable(name="y")],
        constraints=[
            Constraint(name="need", terms={"x": 1, "y": 1}, sense=">=", rhs=10),
            Constraint(name="x_cap", terms={"x": 1}, sense="<=", rhs=3),
            Constraint(name="y_cap", terms={"y": 1}, sense="<=", rhs=4),
            Constraint(name="harmless", terms={"x": 1, "y": -1}, sense="<=", rhs=100),
        ],
        objective={"x": 1},
    )
    r = solve_milp(m)
    assert r.status == "infeasible"
    assert {(e.kind, e.name, e.bound) for e in r.iis} == {
        ("constraint", "need", "lower"), ("constraint", "x_cap", "upper"), ("constraint", "y_cap", "upper"),
    }


def test_row_only_conflict_in_a_milp_gives_the_relaxation_iis() -> None:
    m = LinearModel(
        variables=[Variable(name="x", type="integer"), Variable(name="y")],
        constraints=[
            Constraint(name="need", terms={"x": 1, "y": 1}, sense=">=", rhs=10),
            Constraint(name="x_cap", terms={"x": 1}, sense="<=", rhs=3),
            Constraint(name="y_cap", terms={"y": 1}, sense="<=", rhs=4),
        ],
    )
    r = solve_milp(m)
    assert r.status == "infeasible" and r.iis_of_relaxation
    assert {e.name for e in r.iis} == {"need", "x_cap", "y_cap"}


def test_text_models_name_what_the_caller_gave_and_the_line() -> None:
    lp = "Minimize\n obj: x + y\nSubject To\n c1: x + y >== 10\nEnd\n"
    with pytest.raises(ModelError) as err:
        solve_milp_text(lp, "lp")
    msg = str(err.value)
    assert msg.startswith("model_text line 4, column 14: expected a number") and "model.lp" not in msg
    mps = "NAME bad\nROWS\n N obj\n Q c1\nCOLUMNS\n x obj 1\nENDATA\n"
    with pytest.raises(ModelError, match=r'^model_text line 4: Entry "Q c1" in ROWS section'):
        solve_milp_text(mps, "mps")
    r = solve_milp_text("Maximize\n obj: x\nSubject To\n c1: x <= 2\nEnd\n", "lp")
    assert r.status == "optimal" and r.objective == pytest.approx(2.0)


def test_lp_file_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "plan.lp"
    path.write_text("Minimize\n obj: x\nSubject To\n c1: x <= 3 foo\nEnd\n")
    with pytest.raises(ModelError, match=rf"^{path} line 4, column 13: expected a new line, found `foo`"):
        solve_milp_file(path)


@pytest.mark.parametrize(
    ("text", "fmt"),
    [("NAME empty\nROWS\n N obj\nCOLUMNS\nRHS\nENDATA\n", "mps"), ("Minimize\n obj: 0\nEnd\n", "lp")],
)
def test_a_model_without_variables_is_refused(text: str, fmt: str) -> None:
    with pytest.raises(ModelError, match="model_text: the model has no variables"):
        solve_milp_text(text, fmt)


def _cycle(n: int) -> LinearModel:
    """x0 > x1 > ... > x(n-1) >= x0 among n other rows: infeasible, with a long IIS deletion filter."""
    return LinearModel(
        variables=[Variable(name=f"x{i}", lower=None) for i in range(n)],
        constraints=[Constraint(name=f"c{i}", terms={f"x{i}": 1, f"x{i + 1}": -1}, sense=">=", rhs=1) for i in range(n - 1)]
        + [Constraint(name="close", terms={f"x{n - 1}": 1, "x0": -1}, sense=">=", rhs=0)]
        + [Constraint(name=f"h{i}", terms={f"x{i}": 1, f"x{(i + 7) % n}": 1}, sense="<=", rhs=1e6) for i in range(n)],
    )


def test_an_infeasible_model_without_iis_says_why() -> None:
    # 2x = 1 has no integer solution, yet its LP relaxation is feasible: nothing to show as an IIS
    m = LinearModel(
        variables=[Variable(name="x", type="integer", upper=5)],
        constraints=[Constraint(name="half", terms={"x": 2}, sense="==", rhs=1)],
    )
    r = solve_milp(m)
    assert r.status == "infeasible" and r.iis is None and "the conflict needs integrality" in r.message
    r = solve_milp(_cycle(1500), SolveLimits(time_limit_s=0.2))  # an IIS search of seconds, cut at the limit
    assert r.status == "infeasible" and r.iis is None and "raise the time limit" in r.message
    r = solve_milp(_cycle(300))
    assert {e.name for e in r.iis} == {f"c{i}" for i in range(299)} | {"close"}
