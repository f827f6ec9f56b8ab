"""A caller with a valid token names an ONNX file in `solver.network_dir` whose weights are stored elsewhere
("external data": the tensor names another file, an offset and a length). ONNX opened such files relative to
the model, so a model could point its weights at any file it can name; newer ONNX releases refuse paths that
leave the directory, but the refusal was an internal error quoting the server's path, and a tensor whose
declared shape did not fit its data answered with numpy's reshape message. ogmux never reads external
weights (a network it can embed is far below ONNX's 2 GB limit for weights kept inside the file): each case
is a clear error naming the tensor, and no other file is opened."""

from __future__ import annotations

from pathlib import Path

import mcp
import pytest
from onnx import TensorProto, helper

from ogmux.server.app import build_server
from ogmux.server.settings import load_settings


def _model(weight: TensorProto) -> bytes:
    node = helper.make_node("Gemm", ["x", "W0"], ["y"], transB=1)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])], [weight])  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def _external(location: str) -> TensorProto:
    weight = TensorProto(
        name="W0", data_type=TensorProto.FLOAT, dims=[2, 2], data_location=TensorProto.EXTERNAL
    )
    weight.external_data.add(key="location", value=location)
    return weight


async def _optimize(network_dir: Path, name: str) -> mcp.types.CallToolResult:
    settings = load_settings(None, **{"audit.sink": "off", "solver.network_dir": str(network_dir)})
    async with mcp.Client(build_server(settings, transport="memory")) as client:
        args = {"network": {"path": name}, "bounds": {"lower": [-1, -1], "upper": [1, 1]}}
        return await client.call_tool("optimize_surrogate", args)


@pytest.mark.parametrize("location", ["../../../../etc/passwd", "/etc/passwd", "weights.bin", "link.bin"])
async def test_weights_stored_in_another_file_are_refused_without_opening_it(
    tmp_path: Path, location: str
) -> None:
    nets = tmp_path / "nets"
    nets.mkdir()
    (nets / "weights.bin").write_bytes(b"\0" * 16)
    (nets / "link.bin").symlink_to("/etc/passwd")
    (nets / "model.onnx").write_bytes(_model(_external(location)))
    res = await _optimize(nets, "model.onnx")
    text = res.content[0].text
    assert res.is_error and text.startswith(
        "optimize_surrogate: tensor 'W0' keeps its data in another file"
    ), text
    assert str(tmp_path) not in text and "internal error" not in text


async def test_weights_are_never_read_relative_to_the_server_directory(tmp_path: Path, monkeypatch) -> None:
    """Without the refusal, skipping ONNX's own loading of external data would let numpy's conversion read
    the file relative to the server's working directory."""
    nets = tmp_path / "nets"
    nets.mkdir()
    (nets / "model.onnx").write_bytes(_model(_external("cwd.bin")))
    (tmp_path / "cwd.bin").write_bytes(b"\0" * 16)
    monkeypatch.chdir(tmp_path)
    res = await _optimize(nets, "model.onnx")
    assert res.is_error and "keeps its data in another file" in res.content[0].text


async def test_a_declared_shape_that_does_not_fit_the_data_names_the_tensor(tmp_path: Path) -> None:
    weight = helper.make_tensor("W0", TensorProto.FLOAT, [2, 2], [1.0, 0.0, 0.0, 1.0])
    del weight.dims[:]
    weight.dims.extend([100_000, 100_000])
    (tmp_path / "model.onnx").write_bytes(_model(weight))
    res = await _optimize(tmp_path, "model.onnx")
    text = res.content[0].text
    assert res.is_error and text.startswith(
        "optimize_surrogate: tensor 'W0' declares shape [100000, 100000], which its data does not hold"
    ), text
