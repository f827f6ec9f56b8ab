"""Small networks shared by the solver tests."""

from __future__ import annotations

import numpy as np
import pytest

from tools.solver import ReluNetwork


def random_net(sizes: list[int], seed: int, bias_scale: float = 0.3) -> ReluNetwork:
    """He-scaled random ReLU network with the given layer sizes (inputs first)."""
    rng = np.random.default_rng(seed)
    return ReluNetwork.from_arrays(
        [rng.normal(size=(sizes[i + 1], sizes[i])) * np.sqrt(2.0 / sizes[i]) for i in range(len(sizes) - 1)],
        [rng.normal(size=sizes[i + 1]) * bias_scale for i in range(len(sizes) - 1)],
    )


@pytest.fixture
def small_net() -> ReluNetwork:
    return random_net([2, 8, 8, 1], seed=3)
