"""Pre-activation bounds: interval bound propagation and LP-based (optimization-based) tightening."""

from __future__ import annotations

import re
import time

import highspy
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ogmux.tools.solver.errors import BoundsError
from ogmux.tools.solver.formulation import PreBounds, encode, to_highs_lp
from ogmux.tools.solver.highs_run import new_highs
from ogmux.tools.solver.network import ReluNetwork

__all__ = [
    "MAX_MAGNITUDE",
    "InputBounds",
    "LayerBounds",
    "LayerStability",
    "TighteningStats",
    "check_bounds",
    "interval_bounds",
    "layer_bounds",
    "parse_bounds",
    "stability",
    "tighten_bounds",
]


class InputBounds(BaseModel):
    """A box on the network inputs: lower[j] <= x_j <= upper[j] for every input j."""

    model_config = ConfigDict(extra="forbid")

    lower: list[float] = Field(min_length=1, description="lower bound of each input, in input order")
    upper: list[float] = Field(min_length=1, description="upper bound of each input, in input order")


class LayerStability(BaseModel):
    """Neuron counts of one hidden layer."""

    layer: int
    neurons: int
    stable_active: int
    stable_inactive: int
    unstable: int
    mean_width: float = Field(description="mean width U - L of the pre-activation bounds")
    max_big_m: float = Field(description="largest |L| or U of an unstable neuron (0 when none)")


class LayerBounds(BaseModel):
    """Valid pre-activation bounds of every neuron of one hidden layer."""

    layer: int
    lower: list[float] = Field(description="lower bound of each neuron's pre-activation, in neuron order")
    upper: list[float] = Field(description="upper bound of each neuron's pre-activation, in neuron order")


class TighteningStats(BaseModel):
    """What LP-based tightening did."""

    method: str
    lps_solved: int = 0
    time_s: float = 0.0
    completed: bool = True
    neurons_tightened: int = 0


def check_bounds(net: ReluNetwork, bounds: InputBounds) -> tuple[np.ndarray, np.ndarray]:
    """Arrays (lo, hi) after checking count, finiteness and order; raise BoundsError."""
    lo, hi = np.asarray(bounds.lower, dtype=float), np.asarray(bounds.upper, dtype=float)
    if lo.size != net.n_inputs or hi.size != net.n_inputs:
        raise BoundsError(
            f"the network has {net.n_inputs} inputs but {lo.size} lower and {hi.size} upper bounds were given; "
            "give one finite bound pair per input"
        )
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        bad = [j for j in range(lo.size) if not (np.isfinite(lo[j]) and np.isfinite(hi[j]))]
        raise BoundsError(f"inputs {bad} have infinite or NaN bounds; every input needs finite bounds")
    bad = [j for j in range(lo.size) if lo[j] > hi[j]]
    if bad:
        raise BoundsError(f"inputs {bad} have lower > upper bound")
    return lo, hi


def parse_bounds(text: str, n_inputs: int) -> InputBounds:
    """Parse "x0=-2:2,x1=-2:2" (every input exactly once); raise BoundsError naming the problem."""
    found: dict[int, tuple[float, float]] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.fullmatch(r"x(\d+)\s*=\s*([^:]+):(.+)", part)
        if not m:
            raise BoundsError(f"cannot read bound {part!r}; write xJ=LOW:HIGH, e.g. x0=-2:2")
        j = int(m.group(1))
        if j in found:
            raise BoundsError(f"input x{j} is bounded twice")
        try:
            found[j] = (float(m.group(2)), float(m.group(3)))
        except ValueError:
            raise BoundsError(f"cannot read numbers in {part!r}") from None
    missing = [f"x{j}" for j in range(n_inputs) if j not in found]
    extra = [f"x{j}" for j in found if j >= n_inputs]
    if missing or extra:
        raise BoundsError(
            f"the network has inputs x0..x{n_inputs - 1}; missing bounds: {missing}; unknown inputs: {extra}"
        )
    return InputBounds(
        lower=[found[j][0] for j in range(n_inputs)], upper=[found[j][1] for j in range(n_inputs)]
    )


# HiGHS reads values from 1e20 as infinite, and its 1e-9 tolerances mean nothing next to values past 1e15.
MAX_MAGNITUDE = 1e15


def _check_layer(k: int, last: int, L: np.ndarray, U: np.ndarray) -> None:
    """Refuse pre-activation bounds that are not finite or too large for the MILP, naming the layer."""
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(L) & np.isfinite(U)) | (np.maximum(np.abs(L), np.abs(U)) > MAX_MAGNITUDE)
    if not bad.any():
        return
    where = f"layer {k} (the output layer)" if k == last else f"hidden layer {k}"
    neurons = np.flatnonzero(bad)[:5].tolist()
    raise BoundsError(
        f"{where}: the pre-activation bounds of neurons {neurons} are infinite, NaN or beyond "
        f"{MAX_MAGNITUDE:.0e} over the input box, so no exact MILP exists; rescale the network's weights "
        "(e.g. standardize inputs and outputs) or narrow the input bounds"
    )


def _ibp_layer(w: np.ndarray, b: np.ndarray, l: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    wp, wn = np.maximum(w, 0.0), np.minimum(w, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused by _check_layer, by layer
        return wp @ l + wn @ u + b, wp @ u + wn @ l + b


def interval_bounds(
    net: ReluNetwork, lo: np.ndarray, hi: np.ndarray, known: PreBounds | None = None
) -> PreBounds:
    """IBP pre-activation bounds of every layer (hidden and output), intersected with `known` where given.

    Raises BoundsError naming the first layer whose bounds are not finite or beyond MAX_MAGNITUDE.
    """
    out: PreBounds = []
    l, u = lo, hi
    last = len(net.weights) - 1
    for k, (w, b) in enumerate(zip(net.weights, net.biases)):
        L, U = _ibp_layer(w, b, l, u)
        _check_layer(k, last, L, U)
        if known is not None and k < len(known):
            L, U = np.maximum(L, known[k][0]), np.minimum(U, known[k][1])
        out.append((L, U))
        if k < last:
            l, u = np.maximum(L, 0.0), np.maximum(U, 0.0)
    return out


def stability(net: ReluNetwork, bounds: PreBounds) -> list[LayerStability]:
    """Per hidden layer: stable-active (L >= 0), stable-inactive (U <= 0) and unstable counts."""
    rows = []
    for k, (L, U) in enumerate(bounds[: len(net.weights) - 1]):
        unstable = (L < 0) & (U > 0)
        rows.append(
            LayerStability(
                layer=k,
                neurons=int(L.size),
                stable_active=int((L >= 0).sum()),
                stable_inactive=int((U <= 0).sum()),
                unstable=int(unstable.sum()),
                mean_width=float(np.mean(U - L)),
                max_big_m=float(np.max(np.maximum(-L[unstable], U[unstable]))) if unstable.any() else 0.0,
            )
        )
    return rows


def layer_bounds(net: ReluNetwork, bounds: PreBounds) -> list[LayerBounds]:
    """The pre-activation bounds of every hidden layer as lists."""
    return [
        LayerBounds(layer=k, lower=L.tolist(), upper=U.tolist())
        for k, (L, U) in enumerate(bounds[: len(net.weights) - 1])
    ]


def _margin(v: float) -> float:
    return 1e-7 * (1.0 + abs(v))


def tighten_bounds(
    net: ReluNetwork,
    lo: np.ndarray,
    hi: np.ndarray,
    time_budget_s: float,
) -> tuple[PreBounds, TighteningStats]:
    """Optimization-based bound tightening over the LP relaxation, layer by layer, within a time budget.

    For each hidden layer k >= 1 the LP relaxation of layers < k (with the tightest bounds so
    far) is built once; each neuron's pre-activation is maximized then minimized by changing
    only the objective, so HiGHS warm-starts from the previous basis. Bounds move inward by
    the LP optimum plus a small safety margin, so they stay valid. Each LP runs with a HiGHS
    time limit of what is left of the budget; when the budget runs out the remaining neurons
    keep their interval bounds.
    """
    start = time.perf_counter()
    bounds = interval_bounds(net, lo, hi)
    stats = TighteningStats(method="lp")
    n_hidden = len(net.weights) - 1
    for k in range(1, n_hidden):
        enc = encode(net, lo, hi, bounds, relax=True, hidden_layers=k)
        h = new_highs()
        h.passModel(to_highs_lp(enc, np.zeros(enc.n_cols)))
        prev = enc.act_cols[-1]
        w, b = net.weights[k], net.biases[k]
        L, U = bounds[k][0].copy(), bounds[k][1].copy()
        all_cols = np.arange(enc.n_cols, dtype=np.int32)
        for i in range(w.shape[0]):
            if U[i] <= 0.0 or (L[i] >= 0.0 and k == n_hidden - 1):
                continue
            cost = np.zeros(enc.n_cols)
            keep = prev >= 0
            np.add.at(cost, prev[keep], w[i][keep])
            h.changeColsCost(enc.n_cols, all_cols, cost)
            changed = False
            for sense in (highspy.ObjSense.kMaximize, highspy.ObjSense.kMinimize):
                left = time_budget_s - (time.perf_counter() - start)
                if left <= 0.0:
                    stats.completed = False
                    break
                # HiGHS's run clock adds up over the runs of one instance, so its limit is that sum plus what is left
                h.setOptionValue("time_limit", h.getRunTime() + left)
                h.changeObjectiveSense(sense)
                h.run()
                status = h.getModelStatus()
                if status in (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kInterrupt):
                    stats.completed = False
                    break
                stats.lps_solved += 1
                if status != highspy.HighsModelStatus.kOptimal:
                    continue
                v = h.getInfo().objective_function_value + b[i]
                if sense == highspy.ObjSense.kMaximize:
                    new = v + _margin(v)
                    if new < U[i]:
                        U[i], changed = new, True
                    if U[i] <= 0.0:
                        break
                else:
                    new = v - _margin(v)
                    if new > L[i]:
                        L[i], changed = new, True
            stats.neurons_tightened += int(changed)
            if not stats.completed:
                break
        L = np.minimum(L, U)
        bounds = interval_bounds(net, lo, hi, known=bounds[:k] + [(L, U)])
        if not stats.completed:
            break
    stats.time_s = time.perf_counter() - start
    return bounds, stats
