"""The official MCP conformance suite (`@modelcontextprotocol/conformance`) against `ogmux serve --http`.

Every applicable server scenario must pass; the ones that need the suite's own fixture
tools, resources or prompts are listed, each with its reason, in
conformance-expected-failures.yml. The suite itself fails the run when a listed scenario
starts passing (a stale entry), so the list cannot silently rot.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.procs import http_server, node_peer, peers_installed

EXPECTED = Path(__file__).with_name("conformance-expected-failures.yml")

pytestmark = [
    pytest.mark.npm,
    pytest.mark.skipif(not peers_installed(), reason="npm test peers not installed (make test installs them)"),
]


def test_conformance_server_suite(tmp_path: Path) -> None:
    with http_server() as url:
        proc = subprocess.run(
            [*node_peer("@modelcontextprotocol/conformance/dist/index.js"), "server", "--url", url,
             "--expected-failures", str(EXPECTED), "-o", str(tmp_path)],
            capture_output=True, text=True, check=False, timeout=600,
        )
    tail = proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Baseline check passed" in proc.stdout, tail
    assert proc.returncode == 0, tail
    for scenario in ("server-initialize", "ping", "tools-list", "tools-call-simple-text", "tools-call-error",
                     "resources-list", "prompts-list", "completion-complete", "dns-rebinding-protection"):
        assert f"✓ {scenario}:" in proc.stdout, f"{scenario} did not pass:\n{tail}"
