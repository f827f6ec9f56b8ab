"""The Python API: same validation and access checks as MCP; documented examples run as tests."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys

import pytest

from ogmux.server import Ogmux, OgmuxToolError, load_settings
from ogmux.server import api as server_api


def test_documented_examples_run() -> None:
    failures, tried = doctest.testmod(server_api, verbose=False)
    assert tried > 0 and failures == 0


def _og() -> Ogmux:
    return Ogmux(load_settings(None, **{"roles": {"admin": {}, "reader": {"tools": ["server_info"], "scopes": ["public"]},
                                                  "none": {"tools": []}}, "audit.sink": "off"}))


def test_call_as_a_given_principal() -> None:
    og = _og()
    info = og.call("server_info", {}, og.principal("svc", "reader"))
    assert info["principal"] == "svc" and info["granted_tools"] == ["server_info"]


def test_denied_and_invalid_calls_raise_with_outcome() -> None:
    og = _og()
    with pytest.raises(OgmuxToolError) as denied:
        og.call("server_info", {}, og.principal("x", "none"))
    assert denied.value.outcome == "denied" and "not granted tool 'server_info'" in str(denied.value)
    with pytest.raises(OgmuxToolError) as invalid:
        og.call("server_info", {"extra": True})
    assert invalid.value.outcome == "invalid"


@pytest.mark.parametrize("fmt", ["mcp", "openai", "anthropic"])
def test_tool_definitions_per_format_follow_the_role(fmt: str) -> None:
    og = _og()
    defs = og.tool_definitions(fmt, og.principal(role="reader"))
    assert len(defs) == 1
    d = defs[0]
    if fmt == "openai":
        assert d["type"] == "function" and d["function"]["name"] == "server_info" and d["function"]["parameters"]["type"] == "object"
    elif fmt == "anthropic":
        assert d["name"] == "server_info" and d["input_schema"]["type"] == "object"
    else:
        assert d["inputSchema"]["type"] == "object" and "outputSchema" in d and d["annotations"]["readOnlyHint"]
    assert og.tool_definitions(fmt, og.principal(role="none")) == []


def test_an_unknown_role_is_a_clear_error() -> None:
    og = Ogmux(load_settings(None, **{"audit.sink": "off"}))
    with pytest.raises(ValueError, match=r"unknown role 'reader': this configuration defines admin; add a \[roles.reader\]"):
        og.principal("batch-job", role="reader")


def test_use_as_a_library_leaves_logging_alone() -> None:
    # A fresh process: the SDK's rich root handler used to print bm25s DEBUG lines on every index build.
    code = (
        "import logging; from ogmux import Ogmux; og = Ogmux(); "
        "og.call('search_index', {'query': 'rotate a token', 'k': 3}); "
        "assert logging.root.handlers == [], logging.root.handlers"
    )
    env = {**os.environ, "OGMUX_AUDIT__SINK": "off"}
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env, timeout=120, cwd="/")
    assert out.returncode == 0 and out.stdout == "" and out.stderr == "", out.stderr
