"""The command line: tools export, config check, token minting, help."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ogmux.server.cli import main
from ogmux.server.settings import load_settings

REPO = Path(__file__).resolve().parents[2]


def test_tools_export_formats(capsys: pytest.CaptureFixture[str]) -> None:
    for fmt, key in (("openai", "function"), ("anthropic", "input_schema"), ("mcp", "inputSchema")):
        assert main(["tools", "--format", fmt]) == 0
        defs = json.loads(capsys.readouterr().out)
        assert any(key in d for d in defs)
        assert "server_info" in json.dumps(defs)


def test_tools_unknown_role(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tools", "--role", "ghost"]) == 2
    assert "unknown role 'ghost'" in capsys.readouterr().err


def test_config_check_good_and_bad(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(REPO / "examples" / "ogmux.toml")]) == 0
    out = capsys.readouterr().out
    assert "is valid" in out and "reader" in out
    bad = tmp_path / "bad.toml"
    bad.write_text("[audit]\nsink = \"printer\"\n")
    assert main(["config", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "audit.sink" in err and str(bad) in err


def test_token_new_prints_a_usable_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "new", "--principal", "ci", "--role", "admin"]) == 0
    captured = capsys.readouterr()
    token = captured.err.strip().rsplit(" ", 1)[-1]
    assert token not in captured.out
    cfg = tmp_path / "ogmux.toml"
    cfg.write_text(captured.out)
    assert load_settings(cfg).tokens[0].principal == "ci"


def test_invalid_config_stops_serve_with_file_key_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nport = -1\n")
    proc = subprocess.run([sys.executable, "-m", "ogmux", "serve", "--config", str(bad)],
                          capture_output=True, text=True, check=False, timeout=60, cwd=REPO, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert str(bad) in proc.stderr and "server.port" in proc.stderr
    assert proc.stdout == ""


def test_config_check_fails_a_missing_corpus_and_shows_router_backends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "ogmux.toml"
    missing.write_text('[objectgraph]\ncorpus = "nowhere"\n')
    assert main(["config", "check", str(missing)]) == 1
    assert f"objectgraph.corpus: {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err
    (tmp_path / "nowhere").mkdir()
    missing.write_text(
        '[objectgraph]\ncorpus = "nowhere"\n[[router.backends]]\nname = "moe-small"\nkind = "vllm"\n'
        'replicas = ["http://127.0.0.1:8001"]\n'
    )
    assert main(["config", "check", str(missing)]) == 0
    out = capsys.readouterr().out
    assert f"corpus: {tmp_path / 'nowhere'}" in out and "router backends (policy load)" in out
    assert "moe-small" in out and "http://127.0.0.1:8001" in out


def test_help_prints_no_third_party_banner() -> None:
    # --help imports every command module, the solver (HiGHS) among them, as --version and every command do.
    proc = subprocess.run([sys.executable, "-m", "ogmux", "--help"], capture_output=True, text=True, check=False,
                          timeout=120, cwd="/", stdin=subprocess.DEVNULL)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "HiGHS" not in proc.stdout and "Copyright" not in proc.stdout


def test_the_command_table_names_the_module_of_every_command() -> None:
    from ogmux.server.cli import COMMANDS, build_parser

    full = build_parser()
    [sub] = [a for a in full._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(COMMANDS) == set(sub.choices)
    for command, module in COMMANDS.items():
        [own] = [a for a in build_parser(command)._actions if isinstance(a, argparse._SubParsersAction)]
        assert command in own.choices, f"{command} is not registered by server/commands/{module}.py"


def test_a_command_that_does_not_serve_does_not_load_the_mcp_server() -> None:
    code = "import sys; from ogmux.server.cli import main; main(['index', '--stats-only']); print('mcp' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120, cwd="/")
    assert proc.stdout.splitlines()[-1] == "False"
