"""Reading ReLU feed-forward networks from ONNX (Gemm, MatMul+Add, Relu, Flatten, Identity) and writing them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ogmux.tools.solver.errors import NetworkError
from ogmux.tools.solver.network import ReluNetwork

if TYPE_CHECKING:  # onnx is imported where a model is read or written: it adds seconds to every start-up
    import onnx

__all__ = ["load_onnx", "save_onnx"]

_PASS_THROUGH = {"Identity", "Flatten", "Dropout"}
_ACTIVATIONS = {
    "Sigmoid",
    "Tanh",
    "LeakyRelu",
    "Elu",
    "Selu",
    "Softplus",
    "Softmax",
    "Gelu",
    "HardSigmoid",
    "PRelu",
    "Clip",
}


def _attrs(node: onnx.NodeProto) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _where(node: onnx.NodeProto, i: int) -> str:
    return f"node {i} ({node.op_type}{' ' + repr(node.name) if node.name else ''})"


def _array(tensor: onnx.TensorProto) -> np.ndarray:
    """The tensor's values as float64, read only from the model itself.

    Weights kept in another file ("external data") are refused, never opened: the file is named by the
    model, and numpy_helper would read it relative to the server's working directory. A network small
    enough to embed is far below the 2 GB ONNX allows inside the file.
    """
    from onnx import numpy_helper

    if tensor.data_location == tensor.EXTERNAL:
        raise NetworkError(
            f"tensor {tensor.name!r} keeps its data in another file (ONNX external data), which is not read; "
            "save the model with its weights inside the .onnx file"
        )
    try:
        return numpy_helper.to_array(tensor).astype(np.float64)
    except (ValueError, TypeError) as exc:
        raise NetworkError(
            f"tensor {tensor.name!r} declares shape {list(tensor.dims)}, which its data does not hold as numbers ({exc})"
        ) from None


def load_onnx(source: Path | bytes) -> ReluNetwork:
    """Parse an ONNX model into a ReluNetwork; raise NetworkError naming the node that cannot be embedded."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = (
            onnx.load_from_string(source)
            if isinstance(source, bytes)
            else onnx.load(str(source), load_external_data=False)
        )
    except (DecodeError, OSError, ValueError) as exc:
        raise NetworkError(f"not a readable ONNX model: {exc}") from None
    graph = model.graph
    init = {t.name: _array(t) for t in graph.initializer}
    for i, node in enumerate(graph.node):
        if node.op_type == "Constant":
            value = _attrs(node).get("value")
            if not isinstance(value, onnx.TensorProto):
                raise NetworkError(
                    f"{_where(node, i)}: only a Constant holding a 'value' tensor is supported"
                )
            init[node.output[0]] = _array(value)
    inputs = [i for i in graph.input if i.name not in init]
    if len(inputs) != 1:
        raise NetworkError(f"the graph must have exactly one data input, found {[i.name for i in inputs]}")
    cur = inputs[0].name
    # ops: ("affine", W, b) or ("relu",)
    ops: list[tuple] = []
    for i, node in enumerate(graph.node):
        if node.op_type == "Constant":
            continue
        data = [n for n in node.input if n and n not in init]
        if data != [cur]:
            raise NetworkError(
                f"{_where(node, i)}: only a single chain of layers is supported (inputs {list(node.input)})"
            )
        a = _attrs(node)
        op = node.op_type
        if op in _PASS_THROUGH:
            pass
        elif op == "Relu":
            ops.append(("relu",))
        elif op == "Gemm":
            if a.get("transA", 0):
                raise NetworkError(f"{_where(node, i)}: transA=1 is not supported")
            b_mat = init.get(node.input[1])
            if b_mat is None or b_mat.ndim != 2:
                raise NetworkError(f"{_where(node, i)}: B must be a constant 2-D weight matrix")
            w = a.get("alpha", 1.0) * (b_mat if a.get("transB", 0) else b_mat.T)
            bias = np.zeros(w.shape[0])
            if len(node.input) > 2 and node.input[2]:
                c = init.get(node.input[2])
                if c is None:
                    raise NetworkError(f"{_where(node, i)}: C must be a constant")
                c = c.reshape(-1)
                if c.size not in (1, w.shape[0]):
                    raise NetworkError(
                        f"{_where(node, i)}: bias C of size {c.size} does not match {w.shape[0]} outputs"
                    )
                bias = bias + a.get("beta", 1.0) * c
            ops.append(("affine", w, bias))
        elif op == "MatMul":
            b_mat = init.get(node.input[1])
            if b_mat is None or b_mat.ndim != 2:
                raise NetworkError(
                    f"{_where(node, i)}: the second MatMul operand must be a constant 2-D matrix"
                )
            ops.append(("affine", b_mat.T.copy(), np.zeros(b_mat.shape[1])))
        elif op == "Add":
            const = [init[n] for n in node.input if n in init]
            if not ops or ops[-1][0] != "affine" or len(const) != 1:
                raise NetworkError(f"{_where(node, i)}: Add is supported only as the bias after Gemm/MatMul")
            _, w, bias = ops[-1]
            c = const[0].reshape(-1)
            if c.size not in (1, w.shape[0]):
                raise NetworkError(
                    f"{_where(node, i)}: bias of size {c.size} does not match {w.shape[0]} outputs"
                )
            ops[-1] = ("affine", w, bias + c)
        elif op in _ACTIVATIONS:
            raise NetworkError(
                f"{_where(node, i)}: activation {op} cannot be embedded exactly; only ReLU is supported"
            )
        else:
            raise NetworkError(
                f"{_where(node, i)}: operator {op} is not supported (Gemm, MatMul, Add, Relu, Flatten, Identity)"
            )
        cur = node.output[0]
    return _assemble(ops, inputs[0])


def _assemble(ops: list[tuple], graph_input: onnx.ValueInfoProto) -> ReluNetwork:
    weights: list[np.ndarray] = []
    biases: list[np.ndarray] = []
    pending_relu = False
    for op in ops:
        if op[0] == "relu":
            if not weights or pending_relu:
                raise NetworkError("a Relu must follow a dense layer (Gemm or MatMul)")
            pending_relu = True
            continue
        _, w, b = op
        if weights and w.shape[1] != weights[-1].shape[0]:
            raise NetworkError(
                f"shape mismatch: a layer expects {w.shape[1]} inputs but the previous one has {weights[-1].shape[0]} outputs"
            )
        if weights and not pending_relu:  # two affine layers in a row compose into one
            weights[-1], biases[-1] = w @ weights[-1], w @ biases[-1] + b
        else:
            weights.append(w)
            biases.append(b)
        pending_relu = False
    if not weights:
        raise NetworkError("the graph has no dense layer")
    if pending_relu:  # a ReLU on the output: add an identity output layer so the output stays linear
        n = weights[-1].shape[0]
        weights.append(np.eye(n))
        biases.append(np.zeros(n))
    dims = graph_input.type.tensor_type.shape.dim
    if dims and dims[-1].HasField("dim_value") and dims[-1].dim_value != weights[0].shape[1]:
        raise NetworkError(
            f"input {graph_input.name!r} has {dims[-1].dim_value} features but the first layer expects {weights[0].shape[1]}"
        )
    return ReluNetwork(tuple(weights), tuple(biases))


def save_onnx(net: ReluNetwork, path: Path) -> None:
    """Write the network as Gemm(transB=1) + Relu layers with input `x` and output `y`."""
    import onnx
    from onnx import helper, numpy_helper

    nodes, inits = [], []
    cur = "x"
    last = len(net.weights) - 1
    for k, (w, b) in enumerate(zip(net.weights, net.biases)):
        inits += [
            numpy_helper.from_array(w.astype(np.float32), f"W{k}"),
            numpy_helper.from_array(b.astype(np.float32), f"b{k}"),
        ]
        out = "y" if k == last else f"h{k}"
        nodes.append(
            helper.make_node(
                "Gemm",
                [cur, f"W{k}", f"b{k}"],
                [out],
                name=f"dense{k}",
                alpha=1.0,
                beta=1.0,
                transA=0,
                transB=1,
            )
        )
        if k < last:
            nodes.append(helper.make_node("Relu", [out], [f"a{k}"], name=f"relu{k}"))
            out = f"a{k}"
        cur = out
    graph = helper.make_graph(
        nodes,
        "relu_network",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, net.n_inputs])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, net.n_outputs])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
