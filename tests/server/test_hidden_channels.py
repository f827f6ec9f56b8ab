"""A low-privilege caller learns nothing about hidden nodes through any MCP channel: every answer over a
corpus with admin-only sections equals the answer over the same files with those sections deleted.

Through the SDK's in-memory client, as the `reader` role (public scope only).
"""

from __future__ import annotations

from pathlib import Path

import mcp
import pytest

from ogmux.server.app import build_server
from tests.server.reader_settings import reader_settings

# Release 2.0 changed only the admin-only section: a reader sees the document at 1.0.
VAULT = """<!-- og:meta id=vault title="Vault" version=2.0 scope=public format=1.0 -->
<!-- og:changelog
version=1.0 date=2026-01-01 changed=intro summary="First."
version=2.0 date=2026-02-01 changed=zqsecret summary="Hidden release."
-->

<!-- og:node id=intro type=concept scopes=public -->
# Vault intro

Public text about vaults and keys.
{hidden}
<!-- og:node id=after type=concept scopes=public -->
## After

More public text about vaults.
"""
HIDDEN = """
<!-- og:node id=zqsecret type=concept scopes=admin version=2.0 -->
## Zq hidden section

ZQBODY launch codes.
"""


def _server(corpus: Path):
    return build_server(reader_settings(corpus), transport="memory")


def _corpus(root: Path, files: dict[str, str]) -> Path:
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


async def _answers(corpus: Path, calls: list[tuple[str, dict]]) -> list[tuple[bool, str]]:
    server = _server(corpus)
    async with mcp.Client(server) as client:
        out = []
        for tool, args in calls:
            result = await client.call_tool(tool, args)
            out.append((bool(result.is_error), result.content[0].text))
    await server.state.aclose()
    return out


@pytest.fixture(scope="module")
def vaults(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("vaults")
    return (_corpus(base / "full", {"vault.og": VAULT.format(hidden=HIDDEN)}),
            _corpus(base / "deleted", {"vault.og": VAULT.format(hidden="")}))  # fmt: skip


async def test_since_version_does_not_reveal_a_hidden_release(vaults: tuple[Path, Path]) -> None:
    """The check of since_version listed the hidden release 2.0 as a known version, and accepted
    any version below it: both told a reader that a release it cannot see exists."""
    calls = [("resolve_context", {"ids": ["vault#intro"], "since_version": v}) for v in ("1.0", "1.5", "2.0", "2.5", "3.0")]
    full, deleted = [await _answers(root, calls) for root in vaults]
    assert full == deleted
    assert "2.0" not in full[-1][1] and full[-1][0]  # unknown version; known: 1.0 only
