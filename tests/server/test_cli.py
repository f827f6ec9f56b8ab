"""The command line: tools export, config check, token minting, help."""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ogmux.server.cli import main
from ogmux.server.settings import load_settings
from tests.integration.procs import refused_port

REPO = Path(__file__).resolve().parents[2]


def test_tools_export_formats(capsys: pytest.CaptureFixture[str]) -> None:
    for fmt, key in (("openai", "function"), ("anthropic", "input_schema"), ("mcp", "inputSchema")):
        assert main(["tools", "--format", fmt]) == 0
        defs = json.loads(capsys.readouterr().out)
        assert any(key in d for d in defs)
        assert "server_info" in json.dumps(defs)


def test_tools_unknown_role(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./ogmux.toml: the defaults, which define admin only
    assert main(["tools", "--role", "reader"]) == 2
    assert capsys.readouterr().err == (
        "error: role 'reader' is not defined in the default settings (no --config FILE, no ./ogmux.toml); defined "
        "roles: admin (pass --config with the settings file that defines it, or pick one of these)\n"
    )
    assert main(["tools", "--role", "ghost", "--config", str(REPO / "examples" / "ogmux.toml")]) == 2
    assert "defined roles: admin, reader (add [roles.ghost] to " in capsys.readouterr().err


def test_config_check_good_and_bad(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(REPO / "examples" / "ogmux.toml")]) == 0
    out = capsys.readouterr().out
    assert "is valid" in out and "reader" in out
    bad = tmp_path / "bad.toml"
    bad.write_text("[audit]\nsink = \"printer\"\n")
    assert main(["config", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "audit.sink" in err and str(bad) in err


def test_config_example_prints_the_documented_example_to_start_a_valid_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "example"]) == 0
    text = capsys.readouterr().out
    assert text == (REPO / "examples" / "ogmux.toml").read_text(encoding="utf-8")
    (tmp_path / "ogmux.toml").write_text(text, encoding="utf-8")
    assert main(["config", "check", str(tmp_path / "ogmux.toml")]) == 0


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


def test_config_check_prints_a_bracketed_reason_as_written_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "a-rather-long-directory-name-so-that-the-line-passes-eighty-columns" / "ogmux.toml"
    bad.parent.mkdir()
    bad.write_text("[server\n")
    assert main(["config", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err == f"✗ {bad}: not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 8)\n"


@pytest.mark.parametrize("port", ["99999", "abc", "-1"])
def test_serve_refuses_a_port_that_is_not_one(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--http", "--port", port])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --port: '{port}' is not a port: give a number from 1 to 65535, or 0 for any free port" in err


def test_serve_on_a_port_in_use_says_so_and_how_to_fix_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "ogmux", "serve", "--http", "--port", str(port)],
                              capture_output=True, text=True, check=False, timeout=60, cwd="/", stdin=subprocess.DEVNULL)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == f"ogmux: cannot listen on 127.0.0.1:{port}: Address already in use (another process is " \
                          "listening there: stop it or pick another port with --port)\n"


def test_config_check_warns_of_an_api_key_variable_that_is_not_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "ogmux.toml"
    cfg.write_text('[[router.backends]]\nname = "gpt"\nkind = "openai"\nmodel = "gpt-4o-mini"\napi_key_env = "OGX_TEST_KEY"\n')
    monkeypatch.delenv("OGX_TEST_KEY", raising=False)
    assert main(["config", "check", str(cfg)]) == 0
    captured = capsys.readouterr()
    assert "OGX_TEST_KEY" in captured.out and "(not" in captured.out  # the table may fold the cell
    assert captured.err == "! backend 'gpt': OGX_TEST_KEY is not set here; chat cannot call it until the server's " \
                           "environment sets it\n"
    monkeypatch.setenv("OGX_TEST_KEY", "sk-test")
    assert main(["config", "check", str(cfg)]) == 0
    captured = capsys.readouterr()
    assert "(not" not in captured.out and captured.err == ""


def test_index_and_check_of_a_directory_without_documents_fail_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("not a document\n")
    assert main(["index", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == f"no .og or .md document in {tmp_path}: pass the directory that " \
                                                  "holds your documents\n"
    assert main(["check", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith(f"no .og or .md document in {tmp_path}")
    (tmp_path / "broken.og").write_text("<!-- og:meta id=b -->\n<!-- og:node type=steps -->\n## B\n")
    assert main(["index", str(tmp_path), "--stats-only"]) == 1
    assert capsys.readouterr().err == f"1 load error; run `ogmux check {tmp_path}` for details\n"


def test_transpile_refuses_to_overwrite_its_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    md = tmp_path / "notes.md"
    md.write_text("# Notes\n\nText.\n")
    og = tmp_path / "notes.og"
    og.write_text("# Notes\n\nText.\n")
    for args in (["transpile", str(md), "-o", str(md)], ["transpile", str(og), "-o", str(tmp_path)],
                 ["transpile", str(tmp_path), "-o", str(tmp_path)]):
        assert main(args) == 2
        assert capsys.readouterr().err == f"-o {args[-1]} would overwrite the input: write to another file or directory\n"
    assert md.read_text() == og.read_text() == "# Notes\n\nText.\n"
    assert main(["transpile", str(md), "-o", str(tmp_path)]) == 0 and og.read_text().startswith("<!-- og:")


def test_check_index_and_push_of_a_file_or_missing_directory_say_which_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nText.\n")
    for args in (["check", str(note)], ["index", str(note)], ["corpus", "push", str(note), "--store", "dbname=x"]):
        assert main(args) == 2, args
        assert capsys.readouterr().err == f"ogmux: {note} is a file, not a corpus directory: pass the directory " \
                                          f"that holds your .og and .md documents, such as {tmp_path}\n"
    assert main(["check", str(tmp_path / "gone")]) == 2
    assert capsys.readouterr().err == f"ogmux: corpus directory not found: {tmp_path / 'gone'} (pass the directory " \
                                      "that holds your .og and .md documents)\n"


def test_corpus_push_to_a_bad_dsn_is_one_line_before_the_corpus_is_read(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["corpus", "push", "--store", "http://user:secret@db.example"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "secret" not in captured.err
    assert captured.err == "ogmux: the document store (objectgraph.store or --store) is not a PostgreSQL connection " \
                           "string: write postgresql://USER@HOST:5432/DBNAME or 'host=HOST dbname=DBNAME'\n"
    with refused_port() as port:
        assert main(["corpus", "push", "--store", f"postgresql://ogmux:secret@127.0.0.1:{port}/ogmux"]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"nothing pushed: document store ogmux@127.0.0.1:{port}/ogmux is unreachable (Connection " \
                           "refused): check objectgraph.store (or --store) and that PostgreSQL runs there\n"


def test_corpus_without_an_action_names_the_missing_argument(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["corpus"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.endswith("ogmux corpus: error: the following arguments are required: ACTION\n")


def test_serve_with_an_unwritable_audit_path_stops_with_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "logs"
    blocker.write_text("a file where the audit directory should be\n")
    cfg = tmp_path / "ogmux.toml"
    cfg.write_text('[audit]\nsink = "file"\npath = "logs/audit.jsonl"\n')
    proc = subprocess.run([sys.executable, "-m", "ogmux", "serve", "--config", str(cfg)],
                          capture_output=True, text=True, check=False, timeout=60, cwd="/", stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"ogmux: audit.path {blocker / 'audit.jsonl'} cannot be written (File exists): point it at " \
                          'a writable file, or set [audit] sink = "stderr"\n'


@pytest.mark.parametrize(("args", "usage", "error"), [
    (["serve", "--corpse", "docs"], "usage: ogmux serve ", ("ogmux serve: error: unrecognized arguments: --corpse (did you "
                                                           "mean --corpus?) docs")),
    (["corpus", "push", "--sotre=x"], "usage: ogmux corpus push ", ("ogmux corpus push: error: unrecognized arguments: "
                                                                   "--sotre=x (did you mean --store?)")),
    (["index", "--zzz"], "usage: ogmux index ", "ogmux index: error: unrecognized arguments: --zzz"),
])
def test_an_unknown_option_names_its_command_and_the_closest_option(
    args: list[str], usage: str, error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(args)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith(usage) and err.endswith(f"\n{error}\n"), err


COMMANDS_LISTED = "config, check, index, corpus, eval, router, serve, solve, token, tools, transpile, vllm"


@pytest.mark.parametrize(("args", "error"), [
    (["sevre"], (f"ogmux: error: argument COMMAND: invalid choice: 'sevre' (did you mean 'serve'? choose from "
                f"{COMMANDS_LISTED})")),
    (["bogus"], f"ogmux: error: argument COMMAND: invalid choice: 'bogus' (choose from {COMMANDS_LISTED})"),
    (["config", "chek"], ("ogmux config: error: argument SUBCOMMAND: invalid choice: 'chek' (did you mean 'check'? "
                         "choose from check, example)")),
    (["tools", "--format", "opnai"], ("ogmux tools: error: argument --format: invalid choice: 'opnai' (did you mean "
                                     "'openai'? choose from mcp, openai, anthropic)")),
])
def test_a_mistyped_command_or_choice_names_the_closest_one(
    args: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(args)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("usage: ogmux") and err.endswith(f"\n{error}\n"), err


def test_config_check_names_every_malformed_address_and_missing_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "ogmux.toml"
    cfg.write_text('[objectgraph]\nstore = "mysql://me:secret@db"\n[state]\nurl = "redis://h:x/0"\n[eval]\nruns_dir = "runs"\n')
    assert main(["config", "check", str(cfg)]) == 1
    lines = capsys.readouterr().err.splitlines()
    starts = [f"✗ {cfg}: eval.runs_dir: {tmp_path / 'runs'} does not exist",
              f"✗ {cfg}: state.url redis://h:x/0 is not a Redis URL (",
              f"✗ {cfg}: the document store (objectgraph.store or --store) is not a PostgreSQL connection string: "]
    assert len(lines) == 3 and all(line.startswith(start) for line, start in zip(lines, starts, strict=True)), lines
    assert "secret" not in "".join(lines)


def test_an_output_path_that_cannot_be_written_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "reports"
    blocker.write_text("a file where a directory should be\n")
    assert main(["eval", "report", "radsafe-synthetic", "--replicates", "0", "-o", str(blocker / "r.html")]) == 1
    assert capsys.readouterr().err == f"ogmux: {blocker}: File exists (check the path and its permissions)\n"
    assert main(["solve", "milp", str(tmp_path / "model.json")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'model.json'}: No such file or directory (check the path " \
                                      "and its permissions)\n"


def test_a_corpus_path_with_a_tilde_is_the_home_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "n.md").write_text("# Notes\n\nHello.\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir("/")
    assert main(["index", "~/notes", "--stats-only"]) == 0  # as Claude Desktop passes it: unexpanded
    assert capsys.readouterr().out.startswith("documents: 1  nodes: 1")
