"""`ogmux token new`: reads --config and refuses a role the config does not define."""

from __future__ import annotations

from pathlib import Path

import pytest

from ogmux.server.cli import main
from ogmux.server.settings import load_settings


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "ogmux.toml"
    cfg.write_text('[roles.admin]\ntools = ["*"]\n\n[roles.reader]\ntools = ["search_index"]\n')
    return cfg


def test_role_of_the_given_config_is_accepted_and_the_entry_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path)
    assert main(["token", "new", "--principal", "ci", "--role", "reader", "--config", str(cfg)]) == 0
    entry = capsys.readouterr().out
    cfg.write_text(cfg.read_text() + "\n" + entry)
    token = load_settings(cfg).tokens[0]
    assert (token.principal, token.role) == ("ci", "reader")


def test_unknown_role_is_refused_with_the_defined_roles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "new", "--principal", "ci", "--role", "reader"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "role 'reader' is not defined" in captured.err and "defined roles: admin" in captured.err
    cfg = _config(tmp_path)
    assert main(["token", "new", "--principal", "ci", "--role", "ops", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert str(cfg) in err and "defined roles: admin, reader" in err and "ogm_" not in err


def test_the_entry_appends_to_a_file_without_a_final_newline_and_keeps_any_principal_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "ogmux.toml"
    cfg.write_text('[server]\nname = "ogmux"')  # saved without a final newline
    name = 'Ann "ops" \\ Ødegård'
    assert main(["token", "new", "--principal", name, "--role", "admin", "--config", str(cfg)]) == 0
    with cfg.open("a") as f:  # as `>> ogmux.toml` does
        f.write(capsys.readouterr().out)
    token = load_settings(cfg).tokens[0]
    assert (token.principal, token.role) == (name, "admin")
