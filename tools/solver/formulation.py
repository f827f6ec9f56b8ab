"""The big-M MILP encoding of a ReLU network; stable neurons get no binary variable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import highspy
import numpy as np

from ogmux.tools.solver.network import ReluNetwork

if TYPE_CHECKING:  # scipy loads with the first encoding, not with the solver tools' schemas
    import scipy.sparse as sp

__all__ = ["Encoding", "PreBounds", "encode", "to_highs_lp"]

_INF = highspy.kHighsInf
PreBounds = list[tuple[np.ndarray, np.ndarray]]


@dataclass
class Encoding:
    """Columns, rows and the bookkeeping that maps them back to the network.

    `act_cols[k][i]` is the column of hidden neuron i of layer k, or -1 when it is stably
    inactive (the neuron is the constant 0). `bias_rows[k]` is a sparse (rows x neurons)
    0/1 matrix marking the rows whose right-hand side contains +b_k[i]; the LP derivative
    with respect to b_k is `bias_rows[k].T @ row_dual`.
    """

    n_cols: int
    col_lo: np.ndarray
    col_hi: np.ndarray
    integer: np.ndarray
    a: sp.csc_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    x_cols: np.ndarray
    act_cols: list[np.ndarray]
    bin_cols: list[np.ndarray]
    y_cols: np.ndarray | None
    bias_rows: list[sp.csr_matrix]

    @property
    def n_binaries(self) -> int:
        return int(self.integer.sum())


class _Builder:
    def __init__(self) -> None:
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.integer: list[bool] = []
        self.r: list[int] = []
        self.c: list[int] = []
        self.v: list[float] = []
        self.row_lo: list[float] = []
        self.row_hi: list[float] = []

    def col(self, lo: float, hi: float, integer: bool = False) -> int:
        self.lo.append(lo)
        self.hi.append(hi)
        self.integer.append(integer)
        return len(self.lo) - 1

    def row(self, cols: list[int] | np.ndarray, vals: list[float] | np.ndarray, lo: float, hi: float) -> int:
        i = len(self.row_lo)
        self.r.extend([i] * len(cols))
        self.c.extend(int(c) for c in cols)
        self.v.extend(float(v) for v in vals)
        self.row_lo.append(lo)
        self.row_hi.append(hi)
        return i


def _affine(w_row: np.ndarray, prev_cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = (prev_cols >= 0) & (w_row != 0.0)
    return prev_cols[keep], w_row[keep]


def encode(
    net: ReluNetwork,
    lo: np.ndarray,
    hi: np.ndarray,
    bounds: PreBounds,
    *,
    relax: bool = False,
    hidden_layers: int | None = None,
) -> Encoding:
    """Big-M encoding over the box [lo, hi] with pre-activation `bounds` of every layer.

    With `hidden_layers=k` only the first k hidden layers are encoded (no output layer);
    `relax=True` makes the binaries continuous in [0, 1] (the LP relaxation).
    """
    import scipy.sparse as sp

    n_hidden = len(net.weights) - 1
    depth = n_hidden if hidden_layers is None else hidden_layers
    bld = _Builder()
    x_cols = np.array([bld.col(float(lo[j]), float(hi[j])) for j in range(net.n_inputs)], dtype=int)
    prev = x_cols
    act_cols, bin_cols, bias_rows = [], [], []
    for k in range(depth):
        w, b = net.weights[k], net.biases[k]
        lk, uk = bounds[k]
        acts = np.full(w.shape[0], -1, dtype=int)
        bins = np.full(w.shape[0], -1, dtype=int)
        marks: list[tuple[int, int]] = []
        for i in range(w.shape[0]):
            L, U = float(lk[i]), float(uk[i])
            if U <= 0.0:
                continue
            cols, vals = _affine(w[i], prev)
            if L >= 0.0:
                a = bld.col(L, U)
                acts[i] = a
                marks.append((bld.row(np.r_[a, cols], np.r_[1.0, -vals], b[i], b[i]), i))
                continue
            a = bld.col(0.0, U)
            z = bld.col(0.0, 1.0, integer=not relax)
            acts[i], bins[i] = a, z
            marks.append((bld.row(np.r_[a, cols], np.r_[1.0, -vals], b[i], _INF), i))
            marks.append((bld.row(np.r_[a, z, cols], np.r_[1.0, -L, -vals], -_INF, b[i] - L), i))
            bld.row([a, z], [1.0, -U], -_INF, 0.0)
        act_cols.append(acts)
        bin_cols.append(bins)
        bias_rows.append(marks)
        prev = acts
    y_cols = None
    if hidden_layers is None:
        w, b = net.weights[-1], net.biases[-1]
        lo_y, hi_y = bounds[-1]
        y_cols = np.array([bld.col(float(lo_y[i]), float(hi_y[i])) for i in range(w.shape[0])], dtype=int)
        marks = []
        for i in range(w.shape[0]):
            cols, vals = _affine(w[i], prev)
            marks.append((bld.row(np.r_[y_cols[i], cols], np.r_[1.0, -vals], b[i], b[i]), i))
        bias_rows.append(marks)
    n_rows = len(bld.row_lo)
    sizes = [len(a) for a in act_cols] + ([net.n_outputs] if y_cols is not None else [])
    bias_mats = [
        sp.csr_matrix(([1.0] * len(m), ([r for r, _ in m], [i for _, i in m])), shape=(n_rows, n))
        for m, n in zip(bias_rows, sizes)
    ]
    return Encoding(
        n_cols=len(bld.lo),
        col_lo=np.array(bld.lo),
        col_hi=np.array(bld.hi),
        integer=np.array(bld.integer, dtype=bool),
        a=sp.csc_matrix((bld.v, (bld.r, bld.c)), shape=(n_rows, len(bld.lo))),
        row_lo=np.array(bld.row_lo),
        row_hi=np.array(bld.row_hi),
        x_cols=x_cols,
        act_cols=act_cols,
        bin_cols=bin_cols,
        y_cols=y_cols,
        bias_rows=bias_mats,
    )


def to_highs_lp(
    enc: Encoding, cost: np.ndarray, *, maximize: bool = False, offset: float = 0.0
) -> highspy.HighsLp:
    """A HighsLp of the encoding with objective `cost` over its columns."""
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = enc.n_cols, len(enc.row_lo)
    lp.col_cost_ = np.asarray(cost, dtype=float)
    lp.col_lower_, lp.col_upper_ = enc.col_lo, enc.col_hi
    lp.row_lower_, lp.row_upper_ = enc.row_lo, enc.row_hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = enc.a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = enc.a.indices.astype(np.int32)
    lp.a_matrix_.value_ = enc.a.data.astype(float)
    lp.offset_ = float(offset)
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    if enc.integer.any():
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in enc.integer
        ]
    return lp
