"""Interval and LP-based bounds are sound (sampled pre-activations stay inside), tightening only tightens."""

from __future__ import annotations

import highspy
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ogmux.tools.solver import (
    BoundsError,
    InputBounds,
    ReluNetwork,
    interval_bounds,
    parse_bounds,
    stability,
    tighten_bounds,
)
from ogmux.tools.solver.bounds import check_bounds
from tests.tools.solver.conftest import random_net


def _pre_activations(net, x: np.ndarray) -> list[np.ndarray]:
    out, h = [], x
    for k, (w, b) in enumerate(zip(net.weights, net.biases)):
        z = h @ w.T + b
        out.append(z)
        h = np.maximum(z, 0.0)
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    widths=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    center=st.floats(-3, 3),
    radius=st.floats(0.01, 3),
)
def test_sampled_inputs_stay_inside_interval_and_lp_bounds(
    seed: int, widths: list[int], center: float, radius: float
) -> None:
    net = random_net([2, *widths, 2], seed)
    lo, hi = np.full(2, center - radius), np.full(2, center + radius)
    ibp = interval_bounds(net, lo, hi)
    tight, stats = tighten_bounds(net, lo, hi, time_budget_s=5.0)
    assert stats.completed
    rng = np.random.default_rng(seed)
    x = lo + (hi - lo) * rng.random((400, 2))
    x = np.vstack([x, lo, hi, [lo[0], hi[1]], [hi[0], lo[1]]])
    for z, (L, U), (TL, TU) in zip(_pre_activations(net, x), ibp, tight):
        assert (z >= L - 1e-9).all() and (z <= U + 1e-9).all()
        assert (z >= TL - 1e-9).all() and (z <= TU + 1e-9).all()
        assert (TL >= L - 1e-12).all() and (TU <= U + 1e-12).all()


def test_lp_tightening_is_strictly_tighter_on_a_deeper_net() -> None:
    net = random_net([2, 16, 16, 16, 1], seed=11)
    lo, hi = -np.ones(2), np.ones(2)
    ibp = interval_bounds(net, lo, hi)
    tight, stats = tighten_bounds(net, lo, hi, time_budget_s=30.0)
    assert stats.lps_solved > 0 and stats.neurons_tightened > 0
    width = lambda b: sum(float(np.sum(U - L)) for L, U in b[:-1])
    assert width(tight) < 0.9 * width(ibp)
    before, after = stability(net, ibp), stability(net, tight)
    assert sum(s.unstable for s in after) <= sum(s.unstable for s in before)
    for s in after:
        assert s.stable_active + s.stable_inactive + s.unstable == s.neurons


def test_zero_budget_keeps_interval_bounds() -> None:
    net = random_net([2, 8, 8, 1], seed=2)
    lo, hi = -np.ones(2), np.ones(2)
    tight, stats = tighten_bounds(net, lo, hi, time_budget_s=0.0)
    assert not stats.completed and stats.lps_solved == 0
    for (L, U), (TL, TU) in zip(interval_bounds(net, lo, hi), tight):
        np.testing.assert_array_equal(L, TL)
        np.testing.assert_array_equal(U, TU)


def test_every_tightening_lp_runs_within_what_is_left_of_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    headroom: list[float] = []

    class RecordingHighs(highspy.Highs):
        def run(self):  # the time HiGHS may still spend: its limit minus its run clock so far
            headroom.append(self.getOptionValue("time_limit")[1] - self.getRunTime())
            return super().run()

    def recording_highs() -> highspy.Highs:
        h = RecordingHighs()
        h.setOptionValue("output_flag", False)
        return h

    monkeypatch.setattr("ogmux.tools.solver.bounds.new_highs", recording_highs)
    net = random_net([2, 16, 16, 16, 1], seed=11)
    _, stats = tighten_bounds(net, -np.ones(2), np.ones(2), time_budget_s=5.0)
    assert stats.completed and len(headroom) == stats.lps_solved > 0
    assert all(0.0 < left <= 5.0 for left in headroom)
    assert headroom == sorted(headroom, reverse=True)


def test_stability_counts_hand_computed() -> None:
    from ogmux.tools.solver import ReluNetwork

    # x in [0, 1]: neuron 0 = x + 1 (active), neuron 1 = -x - 1 (inactive), neuron 2 = x - 0.5 (unstable)
    net = ReluNetwork.from_arrays([[[1.0], [-1.0], [1.0]], [[1.0, 1.0, 1.0]]], [[1.0, -1.0, -0.5], [0.0]])
    (layer,) = stability(net, interval_bounds(net, np.zeros(1), np.ones(1)))
    assert (layer.stable_active, layer.stable_inactive, layer.unstable) == (1, 1, 1)
    assert layer.max_big_m == pytest.approx(0.5)


def test_parse_and_check_bounds_errors() -> None:
    assert parse_bounds("x0=-2:2, x1=-1.5:3e0", 2) == InputBounds(lower=[-2, -1.5], upper=[2, 3])
    for text, needle in (
        ("x0=-2:2", "missing bounds: \\['x1'\\]"),
        ("x0=1:2,x0=1:2,x1=0:1", "twice"),
        ("x0=a:b,x1=0:1", "cannot read numbers"),
        ("y0=0:1", "write xJ=LOW:HIGH"),
        ("x0=0:1,x1=0:1,x2=0:1", "unknown inputs: \\['x2'\\]"),
    ):
        with pytest.raises(BoundsError, match=needle):
            parse_bounds(text, 2)
    net = random_net([2, 3, 1], seed=0)
    with pytest.raises(BoundsError, match="2 inputs but 1 lower"):
        check_bounds(net, InputBounds(lower=[0], upper=[1, 1]))
    with pytest.raises(BoundsError, match="infinite or NaN"):
        check_bounds(net, InputBounds(lower=[0, -np.inf], upper=[1, 1]))
    with pytest.raises(BoundsError, match="lower > upper"):
        check_bounds(net, InputBounds(lower=[0, 2], upper=[1, 1]))


@pytest.mark.parametrize("scale", [1e308, 1e200, 1e16])
def test_bounds_beyond_what_a_milp_can_hold_are_refused_naming_the_layer(scale: float) -> None:
    """Finding 11: 1e308 weights gave bounds [nan]..[inf] and a 'solved' model with no solution."""
    big = ReluNetwork.from_arrays([[[1.0, 1.0], [1.0, -1.0]], [[scale, 1.0]], [[1.0]]], [[0.0, 0.0], [0.0], [0.0]])
    with pytest.raises(BoundsError, match=r"^hidden layer 1: the pre-activation bounds of neurons \[0\]"):
        interval_bounds(big, -np.ones(2), np.ones(2))
    out = ReluNetwork.from_arrays([[[1.0, 1.0]], [[scale]]], [[0.0], [0.0]])
    with pytest.raises(BoundsError, match=r"^layer 1 \(the output layer\)"):
        interval_bounds(out, -np.ones(2), np.ones(2))


def test_large_but_representable_bounds_are_kept() -> None:
    net = ReluNetwork.from_arrays([[[1e6, 1.0]], [[1e6]]], [[0.0], [0.0]])
    (_, U0), (_, U1) = interval_bounds(net, -np.ones(2), np.ones(2))
    assert U0[0] == pytest.approx(1e6 + 1) and U1[0] == pytest.approx(1e12 + 1e6)
