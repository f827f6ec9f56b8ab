"""Network import: ONNX graphs built here with onnx.helper (checked against onnx's reference evaluator),
PyTorch modules and state dicts, inline JSON, and the network-directory guard."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from ogmux.tools.solver import (
    NetworkError,
    ReluNetwork,
    SizeLimitError,
    SolverConfig,
    load_network_file,
    load_onnx,
    network_from_json,
    resolve_network_path,
    save_onnx,
)

RNG = np.random.default_rng(7)


def _graph(nodes, inits, n_in=3, n_out=2) -> onnx.ModelProto:
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, n_in])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, n_out])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model


def _agrees(model: onnx.ModelProto, net: ReluNetwork, n_in: int = 3) -> None:
    x = RNG.uniform(-2, 2, size=(64, n_in)).astype(np.float32)
    (ref,) = ReferenceEvaluator(model).run(None, {"x": x})
    np.testing.assert_allclose(net.forward(x.astype(np.float64)), ref, rtol=1e-5, atol=1e-5)


def test_gemm_transb_alpha_beta_flatten_identity() -> None:
    inits = {
        "W0": RNG.normal(size=(4, 3)),
        "b0": RNG.normal(size=4),
        "W1": RNG.normal(size=(4, 2)),
        "b1": RNG.normal(size=2),
    }
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"]),
        helper.make_node("Gemm", ["f", "W0", "b0"], ["h"], transB=1, alpha=0.5, beta=2.0),
        helper.make_node("Relu", ["h"], ["a"]),
        helper.make_node("Identity", ["a"], ["i"]),
        helper.make_node("Gemm", ["i", "W1", "b1"], ["y"]),  # transB = 0: W1 is (in, out)
    ]
    model = _graph(nodes, inits)
    net = load_onnx(model.SerializeToString())
    assert net.hidden_sizes == [4] and net.n_outputs == 2
    _agrees(model, net)


def test_matmul_add_and_output_relu() -> None:
    inits = {
        "W0": RNG.normal(size=(3, 5)),
        "b0": RNG.normal(size=5),
        "W1": RNG.normal(size=(5, 2)),
        "b1": RNG.normal(size=2),
    }
    nodes = [
        helper.make_node("MatMul", ["x", "W0"], ["m0"]),
        helper.make_node("Add", ["m0", "b0"], ["h0"]),
        helper.make_node("Relu", ["h0"], ["a0"]),
        helper.make_node("MatMul", ["a0", "W1"], ["m1"]),
        helper.make_node("Add", ["b1", "m1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["y"]),
    ]
    model = _graph(nodes, inits)
    net = load_onnx(model.SerializeToString())
    assert net.hidden_sizes == [5, 2]  # the output ReLU becomes a hidden layer plus an identity output
    _agrees(model, net)


def test_save_roundtrip(tmp_path: Path) -> None:
    net = ReluNetwork.from_arrays(
        [RNG.normal(size=(6, 3)), RNG.normal(size=(2, 6))], [RNG.normal(size=6), RNG.normal(size=2)]
    )
    save_onnx(net, tmp_path / "n.onnx")
    model = onnx.load(str(tmp_path / "n.onnx"))
    back = load_network_file(tmp_path / "n.onnx")
    _agrees(model, back)
    np.testing.assert_allclose(back.weights[0], net.weights[0], rtol=1e-6)


@pytest.mark.parametrize(
    ("nodes", "inits", "needle"),
    [
        (
            [
                helper.make_node("Gemm", ["x", "W", "b"], ["h"], transB=1),
                helper.make_node("Sigmoid", ["h"], ["y"], name="act"),
            ],
            {"W": np.ones((2, 3)), "b": np.zeros(2)},
            "node 1 (Sigmoid 'act'): activation Sigmoid",
        ),
        (
            [
                helper.make_node("Gemm", ["x", "W", "b"], ["h"], transB=1),
                helper.make_node("Relu", ["h"], ["a"]),
                helper.make_node("Gemm", ["a", "V", "c"], ["y"], transB=1),
            ],
            {"W": np.ones((4, 3)), "b": np.zeros(4), "V": np.ones((2, 5)), "c": np.zeros(2)},
            "expects 5 inputs but the previous one has 4",
        ),
        (
            [helper.make_node("Gemm", ["x", "W", "b"], ["y"], transB=1)],
            {"W": np.full((2, 3), np.nan), "b": np.zeros(2)},
            "NaN or infinity",
        ),
        (
            [helper.make_node("Gemm", ["x", "W", "b"], ["y"], name="dense", transB=1)],
            {"W": np.ones((2, 3)), "b": np.zeros(3)},
            "node 0 (Gemm 'dense'): bias C of size 3 does not match 2 outputs",
        ),
        (
            [helper.make_node("Conv", ["x", "W"], ["y"])],
            {"W": np.ones((1, 1, 1))},
            "operator Conv is not supported",
        ),
    ],
)
def test_onnx_errors_name_the_problem(nodes, inits, needle: str) -> None:
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, 2])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(NetworkError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        load_onnx(model.SerializeToString())


def test_input_width_must_match_first_layer() -> None:
    model = _graph(
        [helper.make_node("Gemm", ["x", "W", "b"], ["y"], transB=1)],
        {"W": np.ones((2, 4)), "b": np.zeros(2)},
        n_in=3,
    )
    with pytest.raises(NetworkError, match="has 3 features but the first layer expects 4"):
        load_onnx(model.SerializeToString())


def test_garbage_bytes() -> None:
    with pytest.raises(NetworkError, match="not a readable ONNX model"):
        load_onnx(b"\x00\x01garbage")


def test_torch_sequential_and_state_dict(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 7), torch.nn.ReLU(), torch.nn.Linear(7, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2)
    )
    from ogmux.tools.solver import from_torch

    x = torch.rand(32, 3) * 4 - 2
    with torch.no_grad():
        expected = model(x).double().numpy()
    for net in (from_torch(model), from_torch(model.state_dict())):
        np.testing.assert_allclose(net.forward(x.double().numpy()), expected, rtol=1e-5, atol=1e-6)
    torch.save(model.state_dict(), tmp_path / "m.pt")
    np.testing.assert_allclose(
        load_network_file(tmp_path / "m.pt").forward(x.double().numpy()), expected, rtol=1e-5, atol=1e-6
    )
    bad = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    with pytest.raises(NetworkError, match=r"module '1' \(Tanh\) is not supported"):
        from_torch(bad)


def test_inline_json_limits_and_validation() -> None:
    spec = {
        "layers": [
            {"weight": [[1.0, -1.0], [0.5, 2.0]], "bias": [0.0, 1.0]},
            {"weight": [[1.0, 1.0]], "bias": [0.0]},
        ]
    }
    net = network_from_json(json.dumps(spec), 10_000)
    assert net.forward(np.array([1.0, 0.0])) == pytest.approx([1.0 + 1.5])
    with pytest.raises(SizeLimitError, match="over the limit"):
        network_from_json(json.dumps(spec), 20)
    ragged = {"layers": [{"weight": [[1.0, 2.0], [1.0]], "bias": [0.0, 0.0]}]}
    with pytest.raises(NetworkError, match="different lengths"):
        network_from_json(json.dumps(ragged), None)
    with pytest.raises(NetworkError, match="only ReLU"):
        network_from_json(json.dumps({**spec, "activation": "tanh"}), None)
    with pytest.raises(NetworkError, match="has 2 rows but bias has 1"):
        network_from_json(json.dumps({"layers": [{"weight": [[1.0], [2.0]], "bias": [0.0]}]}), None)


def test_network_directory_guard(tmp_path: Path) -> None:
    root = tmp_path / "nets"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "n.json").write_text("{}")
    (tmp_path / "secret.json").write_text("{}")
    cfg = SolverConfig(network_dir=root)
    assert resolve_network_path("sub/n.json", cfg) == (root / "sub" / "n.json").resolve()
    for evil in ("../secret.json", str(tmp_path / "secret.json"), "sub/../../secret.json"):
        with pytest.raises(PermissionError):
            resolve_network_path(evil, cfg)
    (root / "link.json").symlink_to(tmp_path / "secret.json")
    with pytest.raises(PermissionError, match="leaves the network directory"):
        resolve_network_path("link.json", cfg)
    with pytest.raises(LookupError):
        resolve_network_path("missing.onnx", cfg)
    with pytest.raises(PermissionError, match="disabled"):
        resolve_network_path("sub/n.json", SolverConfig())


def test_size_limit_of_networks() -> None:
    net = ReluNetwork.from_arrays([np.ones((30, 2)), np.ones((1, 30))], [np.zeros(30), np.zeros(1)])
    with pytest.raises(SizeLimitError, match="max_neurons"):
        net.check_size(SolverConfig(max_neurons=29))
    with pytest.raises(SizeLimitError, match="max_network_params"):
        net.check_size(SolverConfig(max_network_params=100))
