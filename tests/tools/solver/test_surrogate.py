"""optimize_surrogate and analyze_network with real HiGHS: optima checked against dense sampling and the
forward pass, constraints, limits labelled as such, infeasibility, errors."""

from __future__ import annotations

import numpy as np
import pytest

from ogmux.tools.solver import (
    InputBounds,
    ModelError,
    OutputObjective,
    ReluNetwork,
    SizeLimitError,
    SolveLimits,
    SolveProgress,
    SolverConfig,
    SurrogateConstraint,
    analyze_network,
    interval_bounds,
    optimize_surrogate,
)
from ogmux.tools.solver.formulation import encode
from tests.tools.solver.conftest import random_net

BOX = InputBounds(lower=[-2.0, -1.0], upper=[1.5, 2.0])


def _grid(net, n: int = 301) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.meshgrid(np.linspace(BOX.lower[0], BOX.upper[0], n), np.linspace(BOX.lower[1], BOX.upper[1], n))
    x = np.c_[a.ravel(), b.ravel()]
    return x, net.forward(x)


@pytest.mark.parametrize("tightening", ["lp", "interval"])
@pytest.mark.parametrize("sense", ["minimize", "maximize"])
def test_global_optimum_beats_every_grid_point(small_net, tightening: str, sense: str) -> None:
    r = optimize_surrogate(
        small_net,
        BOX,
        OutputObjective(sense=sense, output=0),
        tightening=tightening,
        limits=SolveLimits(mip_rel_gap=1e-9, time_limit_s=60),
    )
    assert r.status == "optimal" and r.solution_kind == "optimal" and r.verified
    assert r.verification_error <= 1e-6
    _, ys = _grid(small_net)
    best_grid = ys.min() if sense == "minimize" else ys.max()
    if sense == "minimize":
        assert r.objective <= best_grid + 1e-7 and r.bound <= r.objective + 1e-7
    else:
        assert r.objective >= best_grid - 1e-7 and r.bound >= r.objective - 1e-7
    # the optimum is the network's own value at x, and x lies in the box
    assert r.y == pytest.approx(small_net.forward(np.array(r.x)).tolist(), abs=0)
    assert all(lo - 1e-12 <= v <= hi + 1e-12 for v, lo, hi in zip(r.x, BOX.lower, BOX.upper))
    # grid optimum is close: the network is Lipschitz on a fine grid
    assert abs(r.objective - best_grid) < 0.05 * (1 + abs(best_grid))


def test_lp_tightening_uses_no_more_binaries_and_agrees(small_net) -> None:
    a = optimize_surrogate(small_net, BOX, tightening="lp", limits=SolveLimits(mip_rel_gap=1e-9))
    b = optimize_surrogate(small_net, BOX, tightening="interval", limits=SolveLimits(mip_rel_gap=1e-9))
    assert a.binaries <= b.binaries
    assert a.objective == pytest.approx(b.objective, rel=1e-6, abs=1e-9)


def test_linear_combination_and_constraints() -> None:
    net = random_net([2, 10, 10, 2], seed=5)
    cons = [
        SurrogateConstraint(terms={"x0": 1.0}, sense=">=", rhs=0.5),
        SurrogateConstraint(terms={"y1": 1.0, "x1": -1.0}, sense="<=", rhs=1.0),
    ]
    obj = OutputObjective(sense="maximize", weights=[1.0, -0.5])
    r = optimize_surrogate(net, BOX, obj, cons, limits=SolveLimits(mip_rel_gap=1e-9))
    assert r.status == "optimal" and r.verified
    x, y = np.array(r.x), np.array(r.y)
    assert x[0] >= 0.5 - 1e-7 and y[1] - x[1] <= 1.0 + 1e-6
    assert r.objective == pytest.approx(y[0] - 0.5 * y[1], abs=1e-9)
    xs, ys = _grid(net, 201)
    ok = (xs[:, 0] >= 0.5) & (ys[:, 1] - xs[:, 1] <= 1.0)
    assert r.objective >= (ys[ok] @ np.array([1.0, -0.5])).max() - 1e-7


def test_infeasible_constraints() -> None:
    net = random_net([2, 6, 1], seed=1)
    r = optimize_surrogate(
        net, BOX, constraints=[SurrogateConstraint(terms={"x0": 1.0}, sense=">=", rhs=5.0)]
    )
    assert r.status == "infeasible" and r.solution_kind == "none" and r.x is None
    assert "no input" in r.message


def test_node_limit_returns_labelled_best_point_and_valid_bound() -> None:
    net = random_net([2, 25, 25, 1], seed=0)
    events: list[SolveProgress] = []
    r = optimize_surrogate(
        net, BOX, limits=SolveLimits(node_limit=1), tightening="interval", on_progress=events.append
    )
    assert r.status == "node_limit" and r.solution_kind == "best_found_at_limit"
    assert "NOT proven optimal" in r.message and r.verified
    assert r.bound <= r.objective + 1e-9 and r.gap >= 0
    assert events and all(e.nodes >= 0 for e in events)
    _, ys = _grid(net, 101)
    assert r.bound <= ys.min() + 1e-9  # the bound is valid


def test_tightening_budget_is_capped_by_the_time_limit() -> None:
    net = random_net([2, 25, 25, 25, 1], seed=4)
    r = optimize_surrogate(net, BOX, limits=SolveLimits(time_limit_s=1e-3), tighten_time_s=600)
    assert r.tightening.method == "lp" and not r.tightening.completed
    full = optimize_surrogate(net, BOX, limits=SolveLimits(node_limit=1), tighten_time_s=600)
    assert full.tightening.completed and full.tightening.lps_solved > r.tightening.lps_solved


def test_bad_objective_and_size_limits(small_net) -> None:
    with pytest.raises(ModelError, match="output index in 0..0"):
        optimize_surrogate(small_net, BOX, OutputObjective(output=3))
    with pytest.raises(ModelError, match="needs 1 finite numbers"):
        optimize_surrogate(small_net, BOX, OutputObjective(weights=[1.0, 2.0]))
    with pytest.raises(ModelError, match="unknown variable 'z0'"):
        optimize_surrogate(
            small_net, BOX, constraints=[SurrogateConstraint(terms={"z0": 1.0}, sense="<=", rhs=0)]
        )
    with pytest.raises(SizeLimitError):
        optimize_surrogate(small_net, BOX, config=SolverConfig(max_neurons=4))


def test_objectives_and_constraints_too_large_for_highs_are_refused(small_net) -> None:
    """Finding 11: objective weights of 1e308 gave `status: optimal` with no solution and bound 0.0."""
    for call in (optimize_surrogate, analyze_network):
        with pytest.raises(ModelError, match="scale objective.weights down"):
            call(small_net, BOX, OutputObjective(weights=[1e308]))
    with pytest.raises(ModelError, match=r"constraints\[0\]: coefficient of 'x0' must be finite and at most"):
        optimize_surrogate(small_net, BOX, constraints=[SurrogateConstraint(terms={"x0": 1e300}, sense="<=", rhs=0)])
    with pytest.raises(ModelError, match=r"constraints\[0\]: rhs must be finite and at most"):
        optimize_surrogate(small_net, BOX, constraints=[SurrogateConstraint(terms={"x0": 1}, sense="<=", rhs=1e300)])


def test_analyze_network_counts_and_relaxation(small_net) -> None:
    a = analyze_network(small_net, BOX)
    assert a.hidden_layers == [8, 8] and a.parameters == small_net.n_params
    for layer in a.layers:
        assert layer.stable_active + layer.stable_inactive + layer.unstable == layer.neurons
    assert a.binaries == a.unstable == sum(l.unstable for l in a.layers)
    assert a.unstable <= sum(l.unstable for l in a.interval_layers)
    opt = optimize_surrogate(small_net, BOX, limits=SolveLimits(mip_rel_gap=1e-9)).objective
    # LP relaxation bound <= global min <= best sampled value; output bounds contain the optimum
    assert a.lp_relaxation[0] <= opt + 1e-7 <= a.sampled_best[0] + 2e-7
    assert a.output_lower[0] <= opt <= a.output_upper[0]
    assert a.lp_gap_estimate[0] >= 0


@pytest.mark.parametrize("tightening", ["lp", "interval"])
def test_analysis_bounds_are_valid_and_binaries_are_those_of_the_encoding(tightening: str) -> None:
    net = random_net([2, 12, 12, 12, 1], seed=7)
    lo, hi = np.array(BOX.lower), np.array(BOX.upper)
    a = analyze_network(net, BOX, tightening=tightening, tighten_time_s=30)
    assert a.tightening.completed
    ibp = interval_bounds(net, lo, hi)
    assert [b.layer for b in a.bounds] == [0, 1, 2]
    xs, _ = _grid(net, 101)
    h = xs
    for k, (b, (L, U)) in enumerate(zip(a.bounds, ibp)):
        lower, upper = np.array(b.lower), np.array(b.upper)
        assert lower.shape == upper.shape == (12,)
        assert (lower >= L - 1e-12).all() and (upper <= U + 1e-12).all()
        z = h @ net.weights[k].T + net.biases[k]
        assert (z >= lower - 1e-9).all() and (z <= upper + 1e-9).all()
        h = np.maximum(z, 0.0)
        assert a.layers[k].unstable == int(((lower < 0) & (upper > 0)).sum())
    pre = [(np.array(b.lower), np.array(b.upper)) for b in a.bounds]
    pre.append((np.array(a.output_lower), np.array(a.output_upper)))
    assert a.binaries == encode(net, lo, hi, pre).n_binaries == a.unstable
    if tightening == "interval":
        assert a.bounds[1].lower == ibp[1][0].tolist() and a.bounds[1].upper == ibp[1][1].tolist()
    r = optimize_surrogate(net, BOX, tightening=tightening, limits=SolveLimits(node_limit=1))
    assert r.binaries == sum(l.unstable for l in r.layers) > 0


def test_a_forward_pass_that_disagrees_with_the_milp_is_not_a_verified_optimum(
    small_net, monkeypatch: pytest.MonkeyPatch
) -> None:
    exact = ReluNetwork.forward
    monkeypatch.setattr(ReluNetwork, "forward", lambda self, x: exact(self, x) + 1e-3)
    r = optimize_surrogate(small_net, BOX, limits=SolveLimits(mip_rel_gap=1e-9))
    assert r.status == "optimal" and not r.verified
    assert r.objective == pytest.approx(exact(small_net, np.array(r.x))[0] + 1e-3, abs=1e-12)
    assert r.verification_abs_error == pytest.approx(1e-3, rel=1e-6)
    assert r.verification_error == pytest.approx(1e-3 / max(1.0, abs(r.objective)), rel=1e-6)
    assert "WARNING" in r.message and "NOT a verified optimum" in r.message
    assert "global optimum" not in r.message and "verified by a forward pass" not in r.message
