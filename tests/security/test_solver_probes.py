"""A caller with a valid token against `solve_milp` with numeric extremes: HiGHS reads any bound,
right-hand side or objective coefficient of magnitude 1e20 or more as infinite, so a finite one would
make a bounded model "unbounded", drop a constraint, or leave an optimum without its objective. They
are refused, naming the field; infinity is said with null (bounds) and nothing else."""

from __future__ import annotations

import subprocess
import sys

import mcp
import pytest

from ogmux.server.app import build_server
from ogmux.server.settings import load_settings


async def solve(args: dict) -> mcp.types.CallToolResult:
    server = build_server(load_settings(None, **{"audit.sink": "off", "solver.read_timeout_s": 2}), transport="memory")
    async with mcp.Client(server) as client:
        return await client.call_tool("solve_milp", args)


def _model(variable: dict, objective: float = 1.0, constraints: list | None = None) -> dict:
    return {"model": {"variables": [{"name": "x", **variable}], "objective": {"x": objective},
                      "constraints": constraints or [], "sense": "maximize"}}  # fmt: skip


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (_model({"upper": 1e25}), "variable 'x' upper bound"),
        (_model({"upper": -1e300, "lower": None}), "variable 'x' upper bound"),
        (_model({"upper": 1, "lower": -1e20}), "variable 'x' lower bound"),
        (_model({"upper": None}, constraints=[{"name": "cap", "terms": {"x": 1}, "sense": "<=", "rhs": 1e25}]),
         "constraint 'cap': rhs"),
        (_model({"upper": 1}, objective=1e25), "objective coefficient of 'x'"),
    ],
)
async def test_values_highs_reads_as_infinite_are_refused(args: dict, named: str) -> None:
    res = await solve(args)
    text = res.content[0].text
    assert res.is_error and named in text and "1e+20" in text, text
    assert "unbounded" not in text and "optimal" not in text


async def test_large_finite_values_below_the_infinite_threshold_still_solve() -> None:
    res = await solve(_model({"upper": 1e19}, objective=1e3))
    assert not res.is_error, res.content[0].text
    out = res.structured_content
    assert out["status"] == "optimal" and out["values"]["x"] == pytest.approx(1e19)


@pytest.mark.parametrize(
    "limits", [{"node_limit": 10**30}, {"time_limit_s": 1e308}, {"mip_rel_gap": -0.0}, {"mip_abs_gap": 5e-324}]
)
async def test_extreme_limits_are_capped_or_refused_not_internal_errors(limits: dict) -> None:
    args = {**_model({"upper": 3.5, "type": "integer"}), "limits": limits}
    res = await solve(args)
    text = res.content[0].text
    assert "internal error" not in text and "Traceback" not in text, text
    if not res.is_error:
        assert res.structured_content["values"]["x"] == 3.0


# A ROWS section repeated inside COLUMNS: HiGHS's MPS reader reads memory it should not. From run to run
# it logs bytes that are not UTF-8 (the text has none: the call failed with a codec error), loops
# forever, or reads a model of 2 variables. Whatever it does, the call answers without a codec error.
GARBLED_MPS = (
    "NAME t\nROWS\n N obj\n L c1\nCOLUMNS\n    MARKER 'MARKER' 'INTORG'\n    x o t\nROWS\n N obj\n L c1bj -1 c1 1\n"
    "    MARKER 'MARKER' 'INTEND'\nRHS\n    RHS c1 1\nRANGES\n    RNG c1 5\nBOUNDS\n UP BND x1e25\n SC BND x 3\nENDATA\n"
)


async def test_a_reader_message_that_is_not_utf8_is_a_model_error() -> None:
    res = await solve({"model_text": GARBLED_MPS, "model_format": "mps"})
    text = res.content[0].text
    assert "codec" not in text and "internal error" not in text, text
    assert not res.is_error or text.startswith("solve_milp: model_text"), text


# HiGHS's MPS reader never returns on this text, holding the interpreter lock: the whole server froze,
# every principal and /healthz with it, until it was killed. The probe runs the call in a child process.
HANGING_MPS = (
    "NAME t\nROWS\n N ob\n L c1 N ob\n L <=c1\nCOLUMNS\n\nCOLUMNS\n    MARKER 'MARKER' 'INTORG'\n    x ob+j -1 c1 1\n"
    "    MARKER 'MARKER' 'INTEND'\nRHS\n    RHS c1 1\nRANGES\n    RNG c1 5\nBOUNDS\n UP BND x 1e2\n SC BND x 3\nENDGeneralATA\n"
)

CALL = """
import asyncio, sys, mcp
from ogmux.server.app import build_server
from ogmux.server.settings import load_settings

async def main():
    settings = load_settings(None, **{"audit.sink": "off", "solver.read_timeout_s": 1})
    async with mcp.Client(build_server(settings, transport="memory")) as client:
        res = await client.call_tool("solve_milp", {"model_text": sys.stdin.read(), "model_format": "mps"})
    print(res.content[0].text)

asyncio.run(main())
"""


def test_a_model_text_the_reader_never_finishes_is_refused_in_time() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CALL], input=HANGING_MPS, capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("solve_milp: model_text: HiGHS's MPS reader did not finish in 1 s"), proc.stdout
