"""A ReLU feed-forward network as float64 arrays, its JSON form, and validation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ogmux.tools.solver.config import SolverConfig
from ogmux.tools.solver.errors import NetworkError, SizeLimitError

__all__ = ["DenseLayer", "NetworkSpec", "ReluNetwork"]


class DenseLayer(BaseModel):
    """y = weight @ x + bias; `weight` has one row per output neuron."""

    model_config = ConfigDict(extra="forbid")

    weight: list[list[float]] = Field(min_length=1, description="out x in matrix, one row per neuron")
    bias: list[float] = Field(min_length=1, description="one value per neuron")


class NetworkSpec(BaseModel):
    """Inline JSON network: dense layers with ReLU after every layer except the last."""

    model_config = ConfigDict(extra="forbid")

    layers: list[DenseLayer] = Field(min_length=1, description="dense layers in order")
    activation: str = Field("relu", description='hidden activation; only "relu" can be embedded exactly')


@dataclass(frozen=True)
class ReluNetwork:
    """Dense layers W_k, b_k with ReLU after each hidden layer and a linear output layer."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        if not self.weights or len(self.weights) != len(self.biases):
            raise NetworkError("a network needs at least one layer and one bias vector per weight matrix")
        prev = None
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            if w.ndim != 2 or b.ndim != 1:
                raise NetworkError(f"layer {k}: weight must be 2-D and bias 1-D (got {w.shape}, {b.shape})")
            if w.shape[0] != b.shape[0]:
                raise NetworkError(
                    f"layer {k}: weight has {w.shape[0]} rows but bias has {b.shape[0]} entries"
                )
            if prev is not None and w.shape[1] != prev:
                raise NetworkError(
                    f"layer {k}: expects {w.shape[1]} inputs but layer {k - 1} has {prev} outputs"
                )
            if not (np.isfinite(w).all() and np.isfinite(b).all()):
                raise NetworkError(f"layer {k}: weights or bias contain NaN or infinity")
            prev = w.shape[0]

    @classmethod
    def from_arrays(cls, weights: list, biases: list) -> ReluNetwork:
        return cls(
            tuple(np.array(w, dtype=np.float64) for w in weights),
            tuple(np.array(b, dtype=np.float64) for b in biases),
        )

    @classmethod
    def from_spec(cls, spec: NetworkSpec) -> ReluNetwork:
        if spec.activation.lower() != "relu":
            raise NetworkError(
                f"activation {spec.activation!r} is not supported: only ReLU networks embed exactly"
            )
        for k, layer in enumerate(spec.layers):
            widths = {len(r) for r in layer.weight}
            if len(widths) != 1:
                raise NetworkError(f"layer {k}: weight rows have different lengths {sorted(widths)}")
        return cls.from_arrays([l.weight for l in spec.layers], [l.bias for l in spec.layers])

    def to_spec(self) -> NetworkSpec:
        return NetworkSpec(
            layers=[DenseLayer(weight=w.tolist(), bias=b.tolist()) for w, b in zip(self.weights, self.biases)]
        )

    @property
    def n_inputs(self) -> int:
        return int(self.weights[0].shape[1])

    @property
    def n_outputs(self) -> int:
        return int(self.weights[-1].shape[0])

    @property
    def hidden_sizes(self) -> list[int]:
        return [int(w.shape[0]) for w in self.weights[:-1]]

    @property
    def n_params(self) -> int:
        return int(sum(w.size + b.size for w, b in zip(self.weights, self.biases)))

    def check_size(self, config: SolverConfig) -> None:
        """Raise SizeLimitError when the network is over the configured limits."""
        if self.n_params > config.max_network_params:
            raise SizeLimitError(
                f"network has {self.n_params} parameters, over solver.max_network_params = {config.max_network_params}"
            )
        if sum(self.hidden_sizes) > config.max_neurons:
            raise SizeLimitError(
                f"network has {sum(self.hidden_sizes)} hidden neurons, over solver.max_neurons = {config.max_neurons}"
            )

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Outputs for one input vector (n_in,) or a batch (n, n_in)."""
        h = np.asarray(x, dtype=np.float64)
        last = len(self.weights) - 1
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w.T + b
            if k < last:
                h = np.maximum(h, 0.0)
        return h
