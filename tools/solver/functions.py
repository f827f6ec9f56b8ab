"""The seed paper's benchmark functions and Latin-hypercube sampling (numpy only)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import qmc

__all__ = ["FUNCTIONS", "BenchmarkFunction", "latin_hypercube"]


def _peaks(x: np.ndarray) -> np.ndarray:
    a, b = x[:, 0], x[:, 1]
    return (
        3 * (1 - a) ** 2 * np.exp(-(a**2) - (b + 1) ** 2)
        - 10 * (a / 5 - a**3 - b**5) * np.exp(-(a**2) - b**2)
        - np.exp(-((a + 1) ** 2) - b**2) / 3
    )


def _himmelblau(x: np.ndarray) -> np.ndarray:
    a, b = x[:, 0], x[:, 1]
    return (a**2 + b - 11) ** 2 + (a + b**2 - 7) ** 2


def _ackley(x: np.ndarray) -> np.ndarray:
    a, b = x[:, 0], x[:, 1]
    return (
        -20 * np.exp(-0.2 * np.sqrt(0.5 * (a**2 + b**2)))
        - np.exp(0.5 * (np.cos(2 * np.pi * a) + np.cos(2 * np.pi * b)))
        + np.e
        + 20
    )


@dataclass(frozen=True)
class BenchmarkFunction:
    """f: R^2 -> R on the box [lower, upper]^2."""

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    lower: float
    upper: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.fn(np.atleast_2d(np.asarray(x, dtype=float)))


FUNCTIONS: dict[str, BenchmarkFunction] = {
    "peaks": BenchmarkFunction("peaks", _peaks, -2.0, 2.0),
    "himmelblau": BenchmarkFunction("himmelblau", _himmelblau, -5.0, 5.0),
    "ackley": BenchmarkFunction("ackley", _ackley, -3.5, 3.5),
}


def latin_hypercube(n: int, lower: np.ndarray, upper: np.ndarray, seed: int) -> np.ndarray:
    """n points, one per stratum in every dimension, scaled to [lower, upper]."""
    sample = qmc.LatinHypercube(d=len(lower), seed=np.random.default_rng(seed)).random(n)
    return qmc.scale(sample, lower, upper)
