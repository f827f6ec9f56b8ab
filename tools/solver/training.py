"""Tractability-aware training of ReLU surrogates (PyTorch on CPU; the [solver-train] extra).

Regularizers of the seed paper, computed on the network in normalized coordinates
(inputs scaled to [-1, 1], targets standardized, or min-max scaled to [0, 1] as in the
paper, where a regularizer weight means what the paper's does): R_L1, R_L2; R_BW, the mean width of
the interval pre-activation bounds of hidden neurons; R_SN, the mean distance to
stability min(U, -L)+ of hidden neurons; R_LP, the per-sample gap between the network
output and the LP relaxation of its big-M encoding with the input fixed at a training
point. The gradient of R_LP comes from the HiGHS duals: d LP / d b_k = sum of the duals of
the rows holding b_k, d LP / d W_k = that times the LP value of the previous layer,
injected with a straight-through term. "bw+lp" adds R_BW, which carries the indirect
sensitivity through the big-M constants. With validation points, the parameters of the epoch
with the lowest validation MSE are kept, as the seed paper's code keeps them.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import highspy
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ogmux.tools.solver.errors import NetworkError
from ogmux.tools.solver.formulation import encode, to_highs_lp
from ogmux.tools.solver.functions import FUNCTIONS, latin_hypercube
from ogmux.tools.solver.highs_run import new_highs
from ogmux.tools.solver.network import ReluNetwork

__all__ = ["REGULARIZERS", "EpochRecord", "TrainConfig", "TrainReport", "train_surrogate"]

Regularizer = Literal["none", "l1", "l2", "bw", "sn", "lp", "bw+lp"]
REGULARIZERS: tuple[str, ...] = ("none", "l1", "l2", "bw", "sn", "lp", "bw+lp")


class TrainConfig(BaseModel):
    """One training run."""

    model_config = ConfigDict(extra="forbid")

    function: Literal["peaks", "himmelblau", "ackley"]
    depth: int = Field(2, ge=1, le=16, description="hidden layers")
    width: int = Field(25, ge=1, le=1024, description="neurons per hidden layer")
    reg: Regularizer = "none"
    lam: float = Field(1e-2, ge=0, description="weight of the regularizer (of R_LP for bw+lp)")
    lam_bw: float | None = Field(None, ge=0, description="weight of R_BW in bw+lp; default: lam")
    seed: int = 0
    samples: int = Field(4000, ge=16, description="Latin-hypercube training points")
    test_samples: int = Field(1000, ge=16, description="Latin-hypercube test points (another seed)")
    epochs: int = Field(100, ge=1)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(3e-3, gt=0)
    val_samples: int = Field(
        0,
        ge=0,
        description="Latin-hypercube validation points (a third seed); when set, the parameters with the "
        "lowest validation MSE at the end of an epoch are kept, as in the seed paper",
    )
    lp_points: int = Field(8, ge=1, description="training points per step in R_LP")
    lp_iteration_limit: int = Field(
        5000,
        ge=1,
        description="simplex iterations per R_LP point; HiGHS's dual simplex can stall on the degenerate LPs of "
        "a network in training (a warm-started one takes tens of iterations), so a point over the limit is "
        "solved again from scratch, then left out of its step",
    )
    lp_sense: Literal["minimize", "maximize"] = Field(
        "minimize", description="direction of the downstream problem"
    )
    threads: int = Field(1, ge=1, description="torch intra-op threads")
    init: Literal["torch", "paper"] = Field(
        "torch",
        description="initial weights: PyTorch's default, or the seed paper's (Kaiming-normal hidden layers, "
        "Xavier-normal output layer, zero biases), which gives far wider pre-activation bounds",
    )
    target_scaling: Literal["standard", "minmax"] = Field(
        "standard",
        description="targets standardized, or min-max scaled to [0, 1] as in the seed paper (the loss and "
        "R_LP are then in those units, so a weight lam means what the paper's does)",
    )


class EpochRecord(BaseModel):
    """Means over one epoch's steps, and the validation MSE at its end (standardized targets)."""

    epoch: int
    train_mse: float
    regularizer: float
    val_mse: float | None = None


class TrainReport(BaseModel):
    """What a training run produced."""

    config: TrainConfig
    test_mse: float = Field(description="test MSE on standardized targets")
    train_mse: float
    val_mse: float | None = Field(None, description="validation MSE (standardized) of the kept parameters")
    best_epoch: int = Field(description="1-based epoch whose parameters were kept (the last without validation)")
    train_time_s: float
    lp_solves: int
    lp_skipped: int = Field(
        description="R_LP points left out of their step: their LP was not solved within the iteration limit"
    )
    final_regularizer: float
    history: list[EpochRecord] = Field(default_factory=list, description="one record per epoch")


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise NetworkError("training needs PyTorch: install the [solver-train] extra") from None
    return torch


def _ibp(torch: Any, linears: list, lo: Any, hi: Any) -> list[tuple[Any, Any]]:
    out = []
    l, u = lo, hi
    for k, lin in enumerate(linears):
        wp, wn = lin.weight.clamp(min=0), lin.weight.clamp(max=0)
        L = l @ wp.T + u @ wn.T + lin.bias
        U = u @ wp.T + l @ wn.T + lin.bias
        out.append((L, U))
        if k < len(linears) - 1:
            l, u = torch.relu(L), torch.relu(U)
    return out


def _to_network(linears: list) -> ReluNetwork:
    return ReluNetwork.from_arrays(
        [lin.weight.detach().double().numpy() for lin in linears],
        [lin.bias.detach().double().numpy() for lin in linears],
    )


class _LpGap:
    """The LP relaxation of the current network at fixed inputs, solved with HiGHS (one model per step)."""

    def __init__(self, sense: str, iteration_limit: int):
        self.maximize = sense == "maximize"
        self.iteration_limit = iteration_limit
        self.solves = 0
        self.skipped = 0

    def _solve(self, h: highspy.Highs) -> bool:
        for attempt in range(2):
            if attempt:
                h.clearSolver()
            h.run()
            self.solves += 1
            if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                return True
        self.skipped += 1
        return False

    def __call__(self, torch: Any, linears: list, ibp: list, xb: np.ndarray) -> tuple[Any, np.ndarray] | None:
        """LP values at the points `xb` carrying the dual gradient, and the indices of the points solved."""
        net = _to_network(linears)
        bounds = [(L.detach().double().numpy()[0], U.detach().double().numpy()[0]) for L, U in ibp]
        enc = encode(net, -np.ones(net.n_inputs), np.ones(net.n_inputs), bounds, relax=True)
        cost = np.zeros(enc.n_cols)
        cost[enc.y_cols[0]] = 1.0
        h = new_highs()
        h.setOptionValue("simplex_iteration_limit", self.iteration_limit)
        h.passModel(to_highs_lp(enc, cost, maximize=self.maximize))
        x_cols = enc.x_cols.astype(np.int32)
        kept: list[int] = []
        val = np.empty((len(xb), enc.n_cols))
        dual = np.empty((len(xb), len(enc.row_lo)))
        for s, x in enumerate(xb):
            # only the input bounds change between points: HiGHS warm-starts from the previous basis
            h.changeColsBounds(len(x_cols), x_cols, x, x)
            if not self._solve(h):
                h.clearSolver()  # the basis a stalled run left is no warm start for the next point
                continue
            sol = h.getSolution()
            val[s], dual[s] = sol.col_value, sol.row_dual
            kept.append(s)
        if not kept:
            return None
        idx = np.array(kept)
        val, dual = val[idx], dual[idx]
        lp_vals = val[:, enc.y_cols[0]]
        surrogate = 0.0
        prev = xb[idx]
        for k, lin in enumerate(linears):
            mu = torch.as_tensor(dual @ enc.bias_rows[k].toarray(), dtype=torch.float32)
            surrogate = (
                surrogate
                + (mu * (torch.as_tensor(prev, dtype=torch.float32) @ lin.weight.T + lin.bias)).sum()
            )
            if k < len(linears) - 1:
                cols = enc.act_cols[k]
                prev = np.where(cols >= 0, val[:, np.maximum(cols, 0)], 0.0)
        lp_sum = float(lp_vals.sum()) + surrogate - surrogate.detach()
        return lp_sum, idx


def train_surrogate(cfg: TrainConfig) -> tuple[ReluNetwork, TrainReport]:
    """Train a ReLU network on the benchmark function and return it in original coordinates."""
    torch = _torch()
    nn = torch.nn
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    fn = FUNCTIONS[cfg.function]
    lower, upper = np.full(2, fn.lower), np.full(2, fn.upper)
    x_tr = latin_hypercube(cfg.samples, lower, upper, cfg.seed)
    x_te = latin_hypercube(cfg.test_samples, lower, upper, cfg.seed + 10_000)
    y_tr, y_te = fn(x_tr), fn(x_te)
    center, scale = (lower + upper) / 2, (upper - lower) / 2
    if cfg.target_scaling == "minmax":
        mu_y, sd_y = float(y_tr.min()), float(y_tr.max() - y_tr.min())
    else:
        mu_y, sd_y = float(y_tr.mean()), float(y_tr.std())
    # test_mse is reported on standardized targets whatever the training scale, so runs compare
    to_std = (sd_y / float(y_tr.std())) ** 2
    xn = torch.tensor((x_tr - center) / scale, dtype=torch.float32)
    yn = torch.tensor((y_tr - mu_y) / sd_y, dtype=torch.float32)[:, None]
    xt = torch.tensor((x_te - center) / scale, dtype=torch.float32)
    yt = torch.tensor((y_te - mu_y) / sd_y, dtype=torch.float32)[:, None]
    dims = [2] + [cfg.width] * cfg.depth + [1]
    linears = [nn.Linear(dims[i], dims[i + 1]) for i in range(len(dims) - 1)]
    if cfg.init == "paper":
        for k, lin in enumerate(linears):
            if k < len(linears) - 1:
                nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
            else:
                nn.init.xavier_normal_(lin.weight)
            nn.init.zeros_(lin.bias)
    layers: list[Any] = []
    for k, lin in enumerate(linears):
        layers.append(lin)
        if k < len(linears) - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    xv = yv = None
    if cfg.val_samples:
        x_va = latin_hypercube(cfg.val_samples, lower, upper, cfg.seed + 20_000)
        xv = torch.tensor((x_va - center) / scale, dtype=torch.float32)
        yv = torch.tensor((fn(x_va) - mu_y) / sd_y, dtype=torch.float32)[:, None]
    best: tuple[float, int, list[Any]] | None = None
    lo_box, hi_box = -torch.ones(1, 2), torch.ones(1, 2)
    lp_gap = _LpGap(cfg.lp_sense, cfg.lp_iteration_limit)
    lam_bw = cfg.lam if cfg.lam_bw is None else cfg.lam_bw
    rng = np.random.default_rng(cfg.seed)
    reg_value = 0.0
    history: list[EpochRecord] = []
    start = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        perm = torch.randperm(len(xn))
        sums = [0.0, 0.0, 0]
        for i in range(0, len(xn), cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            loss = torch.mean((model(xn[idx]) - yn[idx]) ** 2)
            reg = torch.zeros(())
            if cfg.reg in ("l1", "l2"):
                ws = torch.cat([lin.weight.reshape(-1) for lin in linears])
                reg = ws.abs().mean() if cfg.reg == "l1" else (ws**2).mean()
                reg = cfg.lam * reg
            elif cfg.reg in ("bw", "sn", "lp", "bw+lp"):
                ibp = _ibp(torch, linears, lo_box, hi_box)
                hidden_l = torch.cat([L.reshape(-1) for L, _ in ibp[:-1]])
                hidden_u = torch.cat([U.reshape(-1) for _, U in ibp[:-1]])
                if cfg.reg in ("bw", "bw+lp"):
                    reg = reg + lam_bw * (hidden_u - hidden_l).mean()
                if cfg.reg == "sn":
                    reg = reg + cfg.lam * torch.relu(torch.minimum(hidden_u, -hidden_l)).mean()
                if cfg.reg in ("lp", "bw+lp"):
                    pick = rng.choice(len(idx), size=min(cfg.lp_points, len(idx)), replace=False)
                    pts = xn[idx][pick]
                    solved = lp_gap(torch, linears, ibp, pts.numpy().astype(np.float64))
                    if solved is not None:
                        lp_sum, kept = solved
                        f_sum = model(pts[torch.as_tensor(kept)]).sum()
                        gap = (lp_sum - f_sum) if cfg.lp_sense == "maximize" else (f_sum - lp_sum)
                        reg = reg + cfg.lam * gap / len(kept)
            opt.zero_grad()
            (loss + reg).backward()
            opt.step()
            reg_value = float(reg.detach())
            sums[0] += float(loss.detach())
            sums[1] += reg_value
            sums[2] += 1
        record = EpochRecord(epoch=epoch, train_mse=sums[0] / sums[2] * to_std, regularizer=sums[1] / sums[2])
        if xv is not None:
            with torch.no_grad():
                val = float(torch.mean((model(xv) - yv) ** 2))
            record.val_mse = val * to_std
            if best is None or val < best[0]:
                best = (val, epoch, [p.detach().clone() for p in model.parameters()])
        history.append(record)
    best_epoch = cfg.epochs
    if best is not None:
        with torch.no_grad():
            for p, saved in zip(model.parameters(), best[2]):
                p.copy_(saved)
        best_epoch = best[1]
    elapsed = time.perf_counter() - start
    with torch.no_grad():
        test_mse = float(torch.mean((model(xt) - yt) ** 2)) * to_std
        train_mse = float(torch.mean((model(xn) - yn) ** 2)) * to_std
        val_mse = None if xv is None else float(torch.mean((model(xv) - yv) ** 2)) * to_std
    normalized = _to_network(linears)
    w = list(normalized.weights)
    b = list(normalized.biases)
    b[0] = b[0] - w[0] @ (center / scale)
    w[0] = w[0] / scale
    w[-1], b[-1] = w[-1] * sd_y, b[-1] * sd_y + mu_y
    report = TrainReport(
        config=cfg,
        test_mse=test_mse,
        train_mse=train_mse,
        val_mse=val_mse,
        best_epoch=best_epoch,
        train_time_s=elapsed,
        lp_solves=lp_gap.solves,
        lp_skipped=lp_gap.skipped,
        final_regularizer=reg_value,
        history=history,
    )
    return ReluNetwork.from_arrays(w, b), report
