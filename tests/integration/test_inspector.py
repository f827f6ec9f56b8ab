"""A real third-party client: the MCP Inspector in CLI mode, over stdio."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.procs import REPO, node_peer, peers_installed

pytestmark = [
    pytest.mark.npm,
    pytest.mark.skipif(not peers_installed(), reason="npm test peers not installed (make test installs them)"),
]

INSPECTOR = "@modelcontextprotocol/inspector/clients/launcher/build/index.js"


def _inspect(*args: str, serve: tuple[str, ...] = ()) -> dict:
    """The Inspector CLI's JSON answer to its options `args` for `ogmux serve`; `serve`: arguments of `ogmux serve`,
    handed over after `--`."""
    server = ["--", sys.executable, "-m", "ogmux", "serve", *serve] if serve else [sys.executable, "-m", "ogmux", "serve"]
    proc = subprocess.run(
        [*node_peer(INSPECTOR), "--cli", "--connect-timeout", "120000", *args, *server],
        capture_output=True, text=True, check=False, timeout=120, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_inspector_lists_tools() -> None:
    out = _inspect("--method", "tools/list")
    names = {t["name"] for t in out["tools"]}
    assert "server_info" in names
    info = next(t for t in out["tools"] if t["name"] == "server_info")
    assert info["annotations"]["readOnlyHint"] is True
    assert "outputSchema" in info


def test_inspector_calls_a_tool() -> None:
    out = _inspect("--method", "tools/call", "--tool-name", "server_info")
    assert out.get("isError") in (None, False)
    assert out["structuredContent"]["principal"] == "local"


def test_inspector_runs_a_claude_desktop_entry_with_config_and_corpus_after_a_double_dash(tmp_path: Path) -> None:
    # The Inspector has a --config option of its own: `--` hands the entry's --config to ogmux (docs/claude-desktop.md).
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keys.md").write_text("# Keys\n\nRotate the signing keys every quarter.\n", encoding="utf-8")
    config = tmp_path / "ogmux.toml"
    config.write_text(
        '[server]\nstdio_role = "reader"\n[roles.admin]\n[roles.reader]\ntools = ["server_info", "search_index"]\n'
        'scopes = ["public"]\n[audit]\nsink = "off"\n', encoding="utf-8",
    )  # fmt: skip
    out = _inspect(
        "--method", "tools/call", "--tool-name", "search_index", "--tool-arg", "query=rotate signing keys",
        serve=("--config", str(config), "--corpus", str(tmp_path / "notes")),
    )  # fmt: skip
    assert out.get("isError") in (None, False), out
    assert [e["id"] for e in out["structuredContent"]["entries"]] == ["keys#keys"]
