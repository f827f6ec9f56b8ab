"""The start-up line and checks of `ogmux serve`, for each kind of caller."""

from __future__ import annotations

from pathlib import Path

import pytest

from ogmux.demo import CORPUS
from ogmux.server.app import build_server
from ogmux.server.settings import load_settings
from ogmux.server.startup import StartupError, missing_paths, startup_line

TOKEN = {"principal": "ci", "role": "reader", "hash": "sha256$" + "0" * 32 + "$" + "0" * 64}
ROLES = {"admin": {}, "reader": {"tools": ["server_info", "search_index"], "scopes": ["public"]}}


def test_http_with_tokens_names_the_roles_tokens_carry(tmp_path: Path) -> None:
    config = tmp_path / "ogmux.toml"
    settings = load_settings(None, **{"roles": ROLES, "tokens": [TOKEN], "audit.sink": "off"})
    line = startup_line(build_server(settings, transport="http"), config, "http")
    assert line.startswith(f"ogmux: http · config {config} · corpus {CORPUS} (4 documents, ")
    assert line.endswith(" · roles admin, reader by token · 11 tools")


def test_anonymous_loopback_http_names_its_role() -> None:
    settings = load_settings(None, **{"roles": ROLES, "server.anonymous_role": "reader", "audit.sink": "off"})
    line = startup_line(build_server(settings, transport="http"), None, "http")
    assert "· no config file (defaults) ·" in line and line.endswith(" · role reader · 2 tools")


def test_a_missing_corpus_is_a_startup_error(tmp_path: Path) -> None:
    settings = load_settings(None, **{"objectgraph.corpus": str(tmp_path / "gone"), "audit.sink": "off"})
    with pytest.raises(StartupError, match="corpus directory not found: .*gone"):
        startup_line(build_server(settings, transport="stdio"), None, "stdio")


def test_missing_paths_names_each_key(tmp_path: Path) -> None:
    settings = load_settings(None, **{"eval.runs_dir": str(tmp_path / "runs"), "router.predictor_path": "p.json"})
    assert missing_paths(settings) == [("eval.runs_dir", tmp_path / "runs"), ("router.predictor_path", Path("p.json"))]
