"""Start-up of a real `ogmux serve` process: one line naming what is served, or one line saying why not.

The server runs from `/` with a config whose paths are relative to the config file, as when
Claude Desktop starts it.
"""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
from pathlib import Path

import mcp
from mcp import StdioServerParameters
from mcp.client.stdio import stdio_client

from ogmux.demo import CORPUS
from ogmux.server.startup import store_status
from tests.integration.engines import PostgresServer
from tests.integration.store_db import new_database

NOTE = """# Kiln firing schedule

Raise the kiln to cone six over nine hours.

## Cooling

Let it cool for a day before opening.
"""


async def test_stdio_start_says_config_corpus_role_and_tools_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "kiln.md").write_text(NOTE, encoding="utf-8")
    config = tmp_path / "ogmux.toml"
    config.write_text('[objectgraph]\ncorpus = "docs"\n[audit]\nsink = "off"\n', encoding="utf-8")
    params = StdioServerParameters(command=sys.executable, args=["-m", "ogmux", "serve", "--config", str(config)], cwd="/")
    errlog = tmp_path / "stderr.txt"
    with errlog.open("w") as err:
        async with mcp.Client(stdio_client(params, errlog=err)) as client:
            found = await client.call_tool("search_index", {"query": "kiln cone"})
            assert not found.is_error and found.structured_content["entries"][0]["doc"] == "kiln"
            solved = await client.call_tool(
                "solve_milp", {"model": {"sense": "maximize", "variables": [{"name": "x", "upper": 3}], "objective": {"x": 1}}}
            )
            assert not solved.is_error, solved.content
    lines = errlog.read_text().splitlines()
    assert lines == [
        f"ogmux: stdio · config {config} · corpus {tmp_path / 'docs'} (1 document, 2 nodes) · role admin · "
        + lines[0].rsplit(" · ", 1)[-1]
    ], lines
    assert re.fullmatch(r"\d+ tools", lines[0].rsplit(" · ", 1)[-1])


async def test_a_broken_document_is_one_warning_with_file_and_line_and_the_others_serve(
    tmp_path: Path,
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "kiln.md").write_text(NOTE, encoding="utf-8")
    broken = "# Glaze\n\nMix it.\n\n<!-- og:node type=steps -->\n## Apply\n"
    (docs / "glaze.og").write_text(broken, encoding="utf-8")
    config = tmp_path / "ogmux.toml"
    config.write_text('[objectgraph]\ncorpus = "docs"\n[audit]\nsink = "off"\n', encoding="utf-8")
    args = ["-m", "ogmux", "serve", "--config", str(config)]
    params = StdioServerParameters(command=sys.executable, args=args, cwd="/")
    errlog = tmp_path / "stderr.txt"
    with errlog.open("w") as err:
        async with mcp.Client(stdio_client(params, errlog=err)) as client:
            found = await client.call_tool("search_index", {"query": "kiln cone"})
            assert not found.is_error and found.structured_content["entries"][0]["doc"] == "kiln"
    lines = errlog.read_text().splitlines()
    assert " · corpus " + str(docs) + " (1 document, 2 nodes) · " in lines[0]
    # Said once, at start-up: the first call does not log it again.
    warning = (
        f"ogmux: warning: left out: {docs / 'glaze.og'}:5:1: error: og:node needs an id (hint: add id=<node-id>)"
    )
    assert lines[1:] == [warning], lines


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ogmux", "serve", *args], check=False, capture_output=True, text=True,
                          timeout=60, cwd="/", stdin=subprocess.DEVNULL)


def test_a_missing_corpus_stops_start_up_with_one_line(tmp_path: Path) -> None:
    proc = _serve("--corpus", str(tmp_path / "nonexistent"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"ogmux: corpus directory not found: {tmp_path / 'nonexistent'} " \
                          "(set objectgraph.corpus or pass --corpus DIR)\n"


def test_a_corpus_without_a_readable_document_stops_start_up(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a document\n")
    (tmp_path / "broken.og").write_text("<!-- og:meta id=b -->\n<!-- og:node type=steps -->\n## B\n")
    proc = _serve("--corpus", str(tmp_path))
    assert proc.returncode == 2 and proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert line.startswith(f"ogmux: corpus directory {tmp_path} holds no readable .og or .md document; first problem: ")
    assert "broken.og:" in line and f"`ogmux check {tmp_path}`" in line


def test_started_by_hand_in_a_terminal_it_says_what_it_waits_for_and_stops_on_ctrl_c() -> None:
    main, tty = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "ogmux", "serve"], stdin=tty, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd="/")
    os.close(tty)
    try:
        lines = [proc.stderr.readline(), proc.stderr.readline()]
        assert lines[0].startswith("ogmux: stdio · no config file (defaults) · corpus ")
        assert lines[1].startswith("ogmux: speaking MCP on stdin/stdout: an MCP client")
        proc.send_signal(signal.SIGINT)
        # Stopped by Ctrl-C either way: exit status 130, or ended by SIGINT itself when it lands before
        # Python's handler can run (rare, under load); a shell reports both as 130.
        assert proc.wait(timeout=30) in (130, -signal.SIGINT)
        assert proc.stderr.read() == ""  # no traceback
    finally:
        proc.kill()
        os.close(main)


def test_a_store_without_a_corpus_is_a_warning_until_one_is_pushed(pg_cluster: PostgresServer, tmp_path: Path) -> None:
    dsn = new_database(pg_cluster)
    config = tmp_path / "ogmux.toml"
    config.write_text(f'[objectgraph]\nstore = "{dsn}"\n[audit]\nsink = "off"\n')
    where = f"postgres@127.0.0.1:{pg_cluster.port}/{dsn.rsplit('/', 1)[1]}"
    proc = _serve("--config", str(config))
    assert proc.returncode == 0 and proc.stdout == ""
    assert proc.stderr.splitlines()[1:] == [
        f"ogmux: warning: document store {where} holds no corpus yet: push one with `ogmux corpus push DIR --store DSN`"
    ]
    assert f"· corpus from the document store {where} ·" in proc.stderr.splitlines()[0]
    push = subprocess.run([sys.executable, "-m", "ogmux", "corpus", "push", str(CORPUS), "--store", dsn],
                          capture_output=True, text=True, check=False, timeout=120, cwd="/")
    assert push.returncode == 0, push.stderr
    assert store_status(dsn) == (True, 1, "")
    assert len(_serve("--config", str(config)).stderr.splitlines()) == 1


def test_http_with_a_jwt_key_file_that_holds_no_key_stops_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "jwt.pub.pem").write_text("paste the key here\n")
    config = tmp_path / "ogmux.toml"
    config.write_text('[jwt]\nenabled = true\nissuer = "https://idp.example"\npublic_key_file = "jwt.pub.pem"\n')
    proc = _serve("--http", "--port", "0", "--config", str(config))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (
        f"ogmux: jwt.public_key_file {tmp_path / 'jwt.pub.pem'} holds no public key for RS256, ES256: save the "
        "issuer's PEM public key (-----BEGIN PUBLIC KEY-----), or set jwt.algorithms to the key's type\n"
    )


def test_an_audit_key_file_that_is_not_a_key_stops_stdio_too_and_one_others_can_read_is_a_warning(
    tmp_path: Path,
) -> None:
    key = tmp_path / "audit.key"
    key.write_text("paste the key here\n")
    config = tmp_path / "ogmux.toml"
    config.write_text('[audit]\nkey_file = "audit.key"\n')
    proc = _serve("--config", str(config))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (
        f"ogmux: audit key file {key} is unreadable or not hex (non-hexadecimal number found in fromhex() arg at "
        "position 0); delete it to make a new one\n"
    )
    key.write_text("ab" * 32)
    key.chmod(0o644)
    proc = _serve("--config", str(config))
    assert proc.returncode == 0
    assert proc.stderr.splitlines()[0] == (
        f"ogmux: warning: audit key file {key} can be read by other users (mode 0644): run chmod 600 {key}"
    )
    key.chmod(0o600)
    assert not _serve("--config", str(config)).stderr.startswith("ogmux: warning")
