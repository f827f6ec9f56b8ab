"""Benchmark functions, Latin-hypercube data and tractability-aware training (small enough for CI;
skipped when torch is missing). The R_LP gradient is checked against finite differences of the LP."""

from __future__ import annotations

import highspy
import numpy as np
import pytest

from ogmux.tools.solver.bounds import interval_bounds
from ogmux.tools.solver.formulation import encode, to_highs_lp
from ogmux.tools.solver.functions import FUNCTIONS, latin_hypercube
from ogmux.tools.solver.highs_run import new_highs
from tests.tools.solver.conftest import random_net


def test_benchmark_functions_known_values() -> None:
    assert FUNCTIONS["himmelblau"](np.array([[3.0, 2.0], [-2.805118, 3.131312]])) == pytest.approx(
        [0.0, 0.0], abs=1e-9
    )
    assert FUNCTIONS["ackley"](np.array([[0.0, 0.0]])) == pytest.approx([0.0], abs=1e-12)
    assert FUNCTIONS["peaks"](np.array([[0.0, 0.0]])) == pytest.approx(
        [3 * np.exp(-1) - np.exp(-1) / 3], rel=1e-12
    )
    assert (FUNCTIONS["peaks"].lower, FUNCTIONS["himmelblau"].upper, FUNCTIONS["ackley"].lower) == (
        -2.0,
        5.0,
        -3.5,
    )


def test_latin_hypercube_has_one_point_per_stratum() -> None:
    x = latin_hypercube(50, np.array([-2.0, 0.0]), np.array([2.0, 10.0]), seed=3)
    for d, (lo, hi) in enumerate(((-2.0, 2.0), (0.0, 10.0))):
        strata = np.floor((x[:, d] - lo) / (hi - lo) * 50).astype(int)
        assert sorted(strata) == list(range(50))


def _lp_value(net, bounds, x: np.ndarray) -> float:
    enc = encode(net, -np.ones(2), np.ones(2), bounds, relax=True)
    cost = np.zeros(enc.n_cols)
    cost[enc.y_cols[0]] = 1.0
    h = new_highs()
    h.passModel(to_highs_lp(enc, cost))
    h.changeColsBounds(2, enc.x_cols.astype(np.int32), x, x)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return h.getInfo().objective_function_value


def test_lp_regularizer_gradient_matches_finite_differences() -> None:
    torch = pytest.importorskip("torch")
    from ogmux.tools.solver.training import _ibp, _LpGap

    net = random_net([2, 6, 6, 1], seed=4)
    linears = []
    for w, b in zip(net.weights, net.biases):
        lin = torch.nn.Linear(w.shape[1], w.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(w))
            lin.bias.copy_(torch.tensor(b))
        linears.append(lin.float())
    f32 = type(net).from_arrays(
        [l.weight.detach().double().numpy() for l in linears],
        [l.bias.detach().double().numpy() for l in linears],
    )
    ibp = _ibp(torch, linears, -torch.ones(1, 2), torch.ones(1, 2))
    bounds = [(L.detach().double().numpy()[0], U.detach().double().numpy()[0]) for L, U in ibp]
    x = np.array([[0.3, -0.2]])
    lp_sum, kept = _LpGap("minimize", 5000)(torch, linears, ibp, x)
    assert kept.tolist() == [0]
    assert float(lp_sum.detach()) == pytest.approx(_lp_value(f32, bounds, x[0]), abs=1e-6)
    lp_sum.backward()
    eps = 1e-5
    checked = 0
    for k in range(3):
        for i in range(f32.biases[k].size):
            up, dn = [b.copy() for b in f32.biases], [b.copy() for b in f32.biases]
            up[k][i] += eps
            dn[k][i] -= eps
            fd = (
                _lp_value(type(net)(f32.weights, tuple(up)), bounds, x[0])
                - _lp_value(type(net)(f32.weights, tuple(dn)), bounds, x[0])
            ) / (2 * eps)
            assert float(linears[k].bias.grad[i]) == pytest.approx(fd, abs=1e-4), (k, i)
            checked += 1
    assert checked == 13
    # one weight: d LP / d W[k][i, j] = mu_k[i] * (LP value of input j)
    w_up = [w.copy() for w in f32.weights]
    w_up[0][2, 1] += eps
    w_dn = [w.copy() for w in f32.weights]
    w_dn[0][2, 1] -= eps
    fd = (
        _lp_value(type(net)(tuple(w_up), f32.biases), bounds, x[0])
        - _lp_value(type(net)(tuple(w_dn), f32.biases), bounds, x[0])
    ) / (2 * eps)
    assert float(linears[0].weight.grad[2, 1]) == pytest.approx(fd, abs=1e-4)


def _standardized_test_mse(net, cfg, split: str = "test") -> float:
    """MSE of the exported network on the test (or validation) points, on targets standardized by the
    training data, recomputed."""
    fn = FUNCTIONS[cfg.function]
    lo, hi = np.full(2, fn.lower), np.full(2, fn.upper)
    y_tr = fn(latin_hypercube(cfg.samples, lo, hi, cfg.seed))
    n, offset = (cfg.test_samples, 10_000) if split == "test" else (cfg.val_samples, 20_000)
    x = latin_hypercube(n, lo, hi, cfg.seed + offset)
    return float(np.mean(((net.forward(x)[:, 0] - fn(x)) / y_tr.std()) ** 2))


@pytest.mark.parametrize("reg", ["none", "l1", "l2", "bw", "sn", "lp", "bw+lp"])
def test_every_regularizer_trains_and_exports(reg: str) -> None:
    pytest.importorskip("torch")
    from ogmux.tools.solver.training import TrainConfig, train_surrogate

    cfg = TrainConfig(
        function="peaks",
        depth=2,
        width=6,
        reg=reg,
        lam=1e-2,
        samples=64,
        test_samples=64,
        epochs=2,
        batch_size=32,
        lp_points=2,
        seed=1,
    )
    net, report = train_surrogate(cfg)
    assert net.hidden_sizes == [6, 6] and np.isfinite(report.test_mse)
    assert (report.lp_solves > 0) == (reg in ("lp", "bw+lp"))
    # the exported network works in original coordinates: recompute the normalized test MSE
    assert _standardized_test_mse(net, cfg) == pytest.approx(report.test_mse, rel=1e-3)


def test_bound_width_regularizer_narrows_interval_bounds() -> None:
    pytest.importorskip("torch")
    from ogmux.tools.solver.training import TrainConfig, train_surrogate

    def width(reg: str, lam: float) -> float:
        cfg = TrainConfig(
            function="peaks", depth=2, width=16, reg=reg, lam=lam, samples=256, epochs=15, seed=0
        )
        net, _ = train_surrogate(cfg)
        b = interval_bounds(net, np.full(2, -2.0), np.full(2, 2.0))
        return float(np.mean(np.concatenate([U - L for L, U in b[:-1]])))

    assert width("bw", 1.0) < 0.7 * width("none", 0.0)


def test_paper_protocol_exports_in_original_coordinates_and_reports_standardized_mse() -> None:
    pytest.importorskip("torch")
    from ogmux.tools.solver.training import TrainConfig, train_surrogate

    cfg = TrainConfig(
        function="himmelblau", depth=2, width=8, samples=128, test_samples=64, epochs=3, seed=2,
        init="paper", target_scaling="minmax",
    )  # fmt: skip
    net, report = train_surrogate(cfg)
    assert _standardized_test_mse(net, cfg) == pytest.approx(report.test_mse, rel=1e-3)


def test_paper_initialization_widens_interval_bounds() -> None:
    pytest.importorskip("torch")
    from ogmux.tools.solver.training import TrainConfig, train_surrogate

    def width(init: str) -> float:
        cfg = TrainConfig(
            function="peaks", depth=4, width=16, samples=32, epochs=1, lr=1e-6, seed=0, init=init
        )
        net, _ = train_surrogate(cfg)
        b = interval_bounds(net, np.full(2, -2.0), np.full(2, 2.0))
        return float(np.mean(np.concatenate([U - L for L, U in b[:-1]])))

    assert width("paper") > 3 * width("torch")


def test_validation_keeps_the_epoch_with_the_lowest_validation_mse() -> None:
    pytest.importorskip("torch")
    from ogmux.tools.solver.training import TrainConfig, train_surrogate

    # a learning rate this large makes the loss jump between epochs, so the last epoch is not the best
    base = {"function": "peaks", "depth": 2, "width": 16, "samples": 256, "test_samples": 64, "epochs": 12}
    base.update(lr=0.3, seed=3)
    last, last_report = train_surrogate(TrainConfig(**base))
    cfg = TrainConfig(**base, val_samples=200)
    kept, report = train_surrogate(cfg)
    assert last_report.best_epoch == 12 and last_report.val_mse is None
    assert 1 <= report.best_epoch < 12 and len(report.history) == 12
    curve = [r.val_mse for r in report.history]
    assert report.best_epoch == 1 + curve.index(min(curve)) and min(curve) == pytest.approx(report.val_mse)
    # the reported validation MSE is the exported network's, and beats the last epoch's parameters
    assert _standardized_test_mse(kept, cfg, "val") == pytest.approx(report.val_mse, rel=1e-3)
    assert report.val_mse < _standardized_test_mse(last, cfg, "val")
    assert _standardized_test_mse(kept, cfg) == pytest.approx(report.test_mse, rel=1e-3)


def test_an_lp_over_the_iteration_limit_is_skipped_and_training_goes_on() -> None:
    pytest.importorskip("torch")
    from ogmux.tools.solver.training import TrainConfig, train_surrogate

    cfg = TrainConfig(
        function="peaks", depth=3, width=12, reg="lp", samples=64, epochs=1, batch_size=32, lp_points=4
    )
    _, solved = train_surrogate(cfg)
    assert solved.lp_skipped == 0 and solved.lp_solves == 8
    net, report = train_surrogate(cfg.model_copy(update={"lp_iteration_limit": 1}))
    # a point over the limit is tried warm, then cold, then left out of its step
    assert report.lp_skipped > 0 and report.lp_solves >= 8 + report.lp_skipped
    assert np.isfinite(report.test_mse) and net.hidden_sizes == [12, 12, 12]
