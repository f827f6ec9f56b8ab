"""solve_milp, analyze_network and optimize_surrogate through the real MCP server (in-memory SDK client, real HiGHS)."""

from __future__ import annotations

import json
from pathlib import Path

import mcp
import numpy as np
import pytest

from ogmux.server.app import build_server
from ogmux.server.settings import load_settings
from ogmux.tools.solver import ReluNetwork, save_onnx
from tests.tools.solver.conftest import market_split


def _net() -> ReluNetwork:
    rng = np.random.default_rng(0)
    return ReluNetwork.from_arrays(
        [rng.normal(size=(16, 2)), rng.normal(size=(16, 16)) / 4, rng.normal(size=(1, 16))],
        [rng.normal(size=16) * 0.3, rng.normal(size=16) * 0.3, np.zeros(1)],
    )


@pytest.fixture
def net_dir(tmp_path: Path) -> Path:
    d = tmp_path / "networks"
    d.mkdir()
    save_onnx(_net(), d / "surrogate.onnx")
    (tmp_path / "outside.json").write_text(json.dumps(_net().to_spec().model_dump()))
    return d


@pytest.fixture
def server(net_dir: Path):
    settings = load_settings(
        None, **{"solver.network_dir": str(net_dir), "solver.max_inline_bytes": 50_000, "audit.sink": "off"}
    )
    return build_server(settings, transport="memory")


KNAPSACK = {
    "variables": [{"name": f"i{k}", "type": "binary"} for k in range(4)],
    "constraints": [{"name": "cap", "terms": {"i0": 3, "i1": 4, "i2": 2, "i3": 3}, "sense": "<=", "rhs": 7}],
    "objective": {"i0": 10, "i1": 13, "i2": 7, "i3": 8},
    "sense": "maximize",
}


async def test_tools_are_listed(server) -> None:
    async with mcp.Client(server) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert {"solve_milp", "analyze_network", "optimize_surrogate"} <= names


async def test_solve_milp_json_and_mps_text(server) -> None:
    async with mcp.Client(server) as c:
        res = await c.call_tool("solve_milp", {"model": KNAPSACK})
        assert not res.is_error, res.content
        assert res.structured_content["objective"] == pytest.approx(23.0)
        assert "status: optimal" in res.content[0].text
        mps = (
            "NAME T\nROWS\n N obj\n L c\nCOLUMNS\n x obj -1 c 1\nRHS\n rhs c 2.5\nBOUNDS\n UP b x 9\nENDATA\n"
        )
        res = await c.call_tool("solve_milp", {"model_text": mps, "model_format": "mps"})
        assert not res.is_error, res.content
        assert res.structured_content["objective"] == pytest.approx(-2.5)


async def test_solve_milp_infeasible_and_malformed(server) -> None:
    async with mcp.Client(server) as c:
        bad = {
            "variables": [{"name": "x", "upper": 1}],
            "constraints": [{"name": "c", "terms": {"x": 1}, "sense": ">=", "rhs": 2}],
        }
        res = await c.call_tool("solve_milp", {"model": bad})
        assert not res.is_error
        out = res.structured_content
        assert out["status"] == "infeasible" and {e["name"] for e in out["iis"]} == {"c", "x"}
        res = await c.call_tool(
            "solve_milp", {"model": {"variables": [{"name": "x"}], "objective": {"nope": 1}}}
        )
        assert res.is_error and "unknown variable 'nope'" in res.content[0].text
        res = await c.call_tool("solve_milp", {})
        assert res.is_error and "exactly one of" in res.content[0].text


async def test_solve_milp_text_errors_name_model_text_and_the_line(server) -> None:
    async with mcp.Client(server) as c:
        lp = "Minimize\n obj: x\nSubject To\n c1: x <= 3 foo\nEnd\n"
        res = await c.call_tool("solve_milp", {"model_text": lp, "model_format": "lp"})
        text = res.content[0].text
        assert res.is_error and "model_text line 4, column 13: expected a new line" in text and "model.lp" not in text
        empty = "NAME empty\nROWS\n N obj\nCOLUMNS\nRHS\nENDATA\n"
        res = await c.call_tool("solve_milp", {"model_text": empty})
        assert res.is_error and "model_text: the model has no variables" in res.content[0].text


def _progress_events():
    """A list and a progress callback that records each (done, total, message)."""
    events: list[tuple[float, float | None, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        events.append((done, total, message))

    return events, progress


async def test_solve_milp_reports_progress_and_the_node_limit(server) -> None:
    # HiGHS is deterministic and emits one event per improved solution (not per elapsed time);
    # this model improves its incumbent several times at the root node
    events, progress = _progress_events()

    async with mcp.Client(server) as c:
        res = await c.call_tool(
            "solve_milp",
            {"model": market_split(seed=0).model_dump(), "limits": {"node_limit": 1, "time_limit_s": 60}},
            progress_callback=progress,
        )
    assert not res.is_error, res.content
    out = res.structured_content
    assert out["status"] == "node_limit" and out["solution_kind"] == "best_found_at_limit"
    assert "NOT proven optimal" in res.content[0].text and "bound:" in res.content[0].text
    assert any(m is not None and m.startswith("0 nodes, best ") for _, _, m in events), events
    assert all(total == 60 and 0 <= done <= total for done, total, _ in events)


async def test_optimize_surrogate_from_directory_with_progress(server) -> None:
    events, progress = _progress_events()

    async with mcp.Client(server) as c:
        res = await c.call_tool(
            "optimize_surrogate",
            {
                "network": {"path": "surrogate.onnx"},
                "bounds": {"lower": [-2, -2], "upper": [2, 2]},
                "objective": {"sense": "maximize", "output": 0},
                "limits": {"mip_rel_gap": 1e-9},
            },
            progress_callback=progress,
        )
    assert not res.is_error, res.content
    out = res.structured_content
    assert out["status"] == "optimal" and out["verified"] and out["verification_error"] <= 1e-6
    net = _net()
    grid = np.stack(np.meshgrid(np.linspace(-2, 2, 201), np.linspace(-2, 2, 201)), -1).reshape(-1, 2)
    assert out["objective"] >= net.forward(grid).max() - 1e-4  # float32 ONNX weights vs float64 here
    assert events, "expected at least one progress notification"
    assert all(total is not None and 0 <= done <= total for done, total, _ in events)


async def test_inline_network_and_analysis(server) -> None:
    spec = _net().to_spec().model_dump()
    async with mcp.Client(server) as c:
        res = await c.call_tool(
            "analyze_network", {"network": {"inline": spec}, "bounds": {"lower": [-1, -1], "upper": [1, 1]}}
        )
        assert not res.is_error, res.content
        out = res.structured_content
        assert out["hidden_layers"] == [16, 16] and out["binaries"] == out["unstable"]
        assert [(len(b["lower"]), len(b["upper"])) for b in out["bounds"]] == [(16, 16), (16, 16)]
        text = res.content[0].text
        assert "binaries needed" in text and "`bounds`" in text
        assert len(text.splitlines()) == 6  # the per-neuron bounds stay out of the text
        res = await c.call_tool(
            "optimize_surrogate",
            {"network": {"inline": spec}, "bounds": {"lower": [-1, -1], "upper": [1, 1]}},
        )
        assert not res.is_error and res.structured_content["verified"]


async def test_network_references_are_guarded(server, tmp_path: Path) -> None:
    bounds = {"lower": [-1, -1], "upper": [1, 1]}
    async with mcp.Client(server) as c:
        for path in ("../outside.json", str(tmp_path / "outside.json")):
            res = await c.call_tool("optimize_surrogate", {"network": {"path": path}, "bounds": bounds})
            assert res.is_error and "network directory" in res.content[0].text
        res = await c.call_tool("optimize_surrogate", {"network": {"path": "missing.onnx"}, "bounds": bounds})
        assert res.is_error and "no network file" in res.content[0].text
        big = {
            "layers": [
                {"weight": [[0.1] * 2] * 4000, "bias": [0.0] * 4000},
                {"weight": [[0.1] * 4000], "bias": [0.0]},
            ]
        }
        res = await c.call_tool("analyze_network", {"network": {"inline": big}, "bounds": bounds})
        assert res.is_error and "max_inline_bytes" in res.content[0].text
        res = await c.call_tool(
            "optimize_surrogate",
            {"network": {"path": "surrogate.onnx"}, "bounds": {"lower": [-1], "upper": [1]}},
        )
        assert res.is_error and "2 inputs" in res.content[0].text


async def test_non_finite_bounds_are_a_clear_error_naming_the_layer(server) -> None:
    """Finding 11: analyze_network answered bounds [nan]..[inf]; optimize_surrogate 'optimal' without a solution."""
    net = {"layers": [{"weight": [[1e308, 1.0], [1.0, -1.0]], "bias": [0.0, 0.0]}, {"weight": [[1.0, 1.0]], "bias": [0.0]}]}
    args = {"network": {"inline": net}, "bounds": {"lower": [-2, -2], "upper": [2, 2]}}
    async with mcp.Client(server) as c:
        for tool in ("analyze_network", "optimize_surrogate"):
            res = await c.call_tool(tool, args)
            assert res.is_error, res.content
            assert f"{tool}: hidden layer 0: the pre-activation bounds of neurons [0] are infinite" in res.content[0].text
            assert "rescale the network's weights" in res.content[0].text
