"""The start-up line and checks of `ogmux serve`, for each kind of caller."""

from __future__ import annotations

from pathlib import Path

import pytest

from ogmux.demo import CORPUS
from ogmux.server.app import build_server
from ogmux.server.settings import load_settings
from ogmux.server.startup import (
    StartupError,
    check_settings,
    http_warnings,
    missing_paths,
    startup_line,
    startup_warnings,
    store_where,
)
from tests.integration.procs import refused_port

TOKEN = {"principal": "ci", "role": "reader", "hash": "sha256$" + "0" * 32 + "$" + "0" * 64}
ROLES = {"admin": {}, "reader": {"tools": ["server_info", "search_index"], "scopes": ["public"]}}


def test_http_with_tokens_names_the_roles_tokens_carry(tmp_path: Path) -> None:
    config = tmp_path / "ogmux.toml"
    settings = load_settings(None, **{"roles": ROLES, "tokens": [TOKEN], "audit.sink": "off"})
    line = startup_line(build_server(settings, transport="http"), config, "http")
    assert line.startswith(f"ogmux: http://127.0.0.1:8765/mcp · config {config} · corpus {CORPUS} (4 documents, ")
    assert line.endswith(" · roles admin, reader by token · 11 tools")


def test_http_names_an_ipv6_address_in_brackets() -> None:
    settings = load_settings(None, **{"server.host": "::1", "server.port": 9000, "audit.sink": "off"})
    line = startup_line(build_server(settings, transport="http"), None, "http")
    assert line.startswith("ogmux: http://[::1]:9000/mcp · no config file (defaults) · ")


def test_the_config_file_is_named_with_the_home_directory_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    line = startup_line(build_server(load_settings(None, **{"audit.sink": "off"})), Path("~/ogmux.toml"), "stdio")
    assert f" · config {tmp_path / 'ogmux.toml'} · " in line


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


def test_a_file_given_as_the_corpus_is_named_a_file(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text("# Note\n")
    settings = load_settings(None, **{"objectgraph.corpus": str(note), "audit.sink": "off"})
    with pytest.raises(StartupError) as exc:
        startup_line(build_server(settings, transport="stdio"), None, "stdio")
    assert str(exc.value) == f"{note} is a file, not a corpus directory: pass the directory that holds your .og " \
                             f"and .md documents, such as {tmp_path}"


def test_settings_checks_name_the_key_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text("")
    cases = {
        "audit.path logs/a.jsonl cannot be written": {"audit.sink": "file", "audit.path": str(tmp_path / "logs" / "a.jsonl")},
        "state.url redis://h:port/0 is not a Redis URL": {"state.url": "redis://h:port/0"},
        "the document store (objectgraph.store or --store) is not a PostgreSQL connection string": {
            "objectgraph.store": "mysql://me:secret@db"
        },
    }
    for start, overrides in cases.items():
        with pytest.raises(StartupError) as exc:
            check_settings(load_settings(None, **overrides))
        text = str(exc.value).replace(f"{tmp_path}/", "")
        assert text.startswith(start) and "secret" not in text and "\n" not in text, text


def test_an_unreachable_store_or_redis_is_one_warning_each_saying_what_calls_do() -> None:
    with refused_port() as port:
        settings = load_settings(None, **{
            "objectgraph.store": f"postgresql://ogmux:secret@127.0.0.1:{port}/ogmux",
            "state.url": f"redis://:secret@127.0.0.1:{port}/0", "state.fail": "closed",
        })
        check_settings(settings)
        warnings = startup_warnings(settings)
    assert warnings == [
        (f"ogmux: warning: document store ogmux@127.0.0.1:{port}/ogmux is unreachable (Connection refused): check "
        "objectgraph.store (or --store) and that PostgreSQL runs there"),
        (f"ogmux: warning: shared state redis://:***@127.0.0.1:{port}/0 is unreachable (Error 111 connecting to "
        f"127.0.0.1:{port}. Connection refused): every rate-limited call is refused until it answers ([state] fail = "
        '"closed"); check state.url and that Redis runs there'),
    ]
    assert store_where(settings.objectgraph.store) == f"ogmux@127.0.0.1:{port}/ogmux"
    assert startup_warnings(load_settings(None)) == []


def test_http_beyond_loopback_without_auth_says_how_to_add_it_and_when_jwt_is_switched_off() -> None:
    settings = load_settings(None, **{"server.host": "0.0.0.0", "audit.sink": "off"})
    with pytest.raises(ValueError) as exc:
        build_server(settings, transport="http")
    assert str(exc.value) == ("refusing to serve HTTP on '0.0.0.0' without authentication: add [[tokens]] "
                              "(`ogmux token new`) or [jwt] with enabled = true, or bind to 127.0.0.1")
    settings = load_settings(None, **{"server.host": "0.0.0.0", "jwt.issuer": "https://idp.example"})
    with pytest.raises(ValueError, match=r"without authentication \(\[jwt\] is filled in but jwt.enabled = false\): "):
        build_server(settings, transport="http")


def test_http_on_every_interface_warns_of_the_host_names_and_url_remote_clients_need() -> None:
    settings = load_settings(None, **{"server.host": "0.0.0.0", "server.port": 9000})
    assert http_warnings(settings) == [
        ("ogmux: warning: serving on 0.0.0.0 with only loopback host names allowed: a client reaching this server "
        "by another name is refused (421); list its names in [server].allowed_hosts"),
        ("ogmux: warning: [server].public_url is unset, so the 401 challenge and the JWT audience name "
        "http://0.0.0.0:9000/mcp: set it to the URL clients use"),
    ]
    remote = {"server.allowed_hosts": ["ogmux.example.com:*"], "server.public_url": "https://ogmux.example.com/mcp"}
    assert http_warnings(load_settings(None, **{"server.host": "0.0.0.0", **remote})) == []
    assert http_warnings(load_settings(None)) == []  # loopback
