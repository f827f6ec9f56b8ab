"""Small networks shared by the solver tests."""

from __future__ import annotations

import numpy as np
import pytest

from ogmux.tools.solver import Constraint, LinearModel, ReluNetwork, Variable


def random_net(sizes: list[int], seed: int, bias_scale: float = 0.3) -> ReluNetwork:
    """He-scaled random ReLU network with the given layer sizes (inputs first)."""
    rng = np.random.default_rng(seed)
    return ReluNetwork.from_arrays(
        [rng.normal(size=(sizes[i + 1], sizes[i])) * np.sqrt(2.0 / sizes[i]) for i in range(len(sizes) - 1)],
        [rng.normal(size=sizes[i + 1]) * bias_scale for i in range(len(sizes) - 1)],
    )


def market_split(seed: int, m: int = 4, n: int = 30) -> LinearModel:
    """A market split MILP (Cornuejols-Dawande): split n binaries so each of m weighted sums hits half its total.

    The LP bound stays 0 while a perfect split rarely exists, so branch and bound runs far beyond
    the root node, yet the all-slack point is feasible, so HiGHS finds solutions at once.
    """
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 100, size=(m, n))
    return LinearModel(
        variables=[Variable(name=f"x{j}", type="binary") for j in range(n)]
        + [Variable(name=f"{s}{i}") for i in range(m) for s in ("over", "under")],
        constraints=[
            Constraint(
                name=f"split{i}",
                terms={**{f"x{j}": float(a[i, j]) for j in range(n)}, f"over{i}": -1.0, f"under{i}": 1.0},
                sense="==",
                rhs=float(a[i].sum() // 2),
            )
            for i in range(m)
        ],
        objective={f"{s}{i}": 1.0 for i in range(m) for s in ("over", "under")},
    )


@pytest.fixture
def small_net() -> ReluNetwork:
    return random_net([2, 8, 8, 1], seed=3)
