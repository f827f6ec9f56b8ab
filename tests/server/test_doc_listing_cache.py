"""Completions of `og://node/{id}` and pages of `og://doc/{doc}` read the document's listing built once per
snapshot and scope key (a completion or a page rebuilt the whole visible index: 36-39 ms each on a
4,000-node document), and each role reads its own listing."""

from __future__ import annotations

from pathlib import Path

import mcp
import pytest
from mcp.types import ResourceTemplateReference

from ogmux.server.app import build_server
from ogmux.server.context import ToolContext
from ogmux.server.mcp_resources import objectgraph as og_resources
from ogmux.server.principal import principal_for
from ogmux.tools.objectgraph import listing
from tests.server.reader_settings import reader_settings

SECTIONS = 300  # every third admin-only: 200 public sections, several 2,000-token pages


def _settings(tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    parts = ['<!-- og:meta id=big title="Big runbook" version=1.0 scope=public -->\n']
    for i in range(SECTIONS):
        scope = "admin" if i % 3 == 2 else "public"
        parts.append(f"<!-- og:node id=s{i} type=steps scopes={scope} -->\n## Section {i}\n\n"
                     f"Restart worker {i} when its queue holds more than {i * 10} jobs, then read the logs.\n\n")  # fmt: skip
    (corpus / "big.og").write_text("".join(parts), encoding="utf-8")
    return reader_settings(corpus)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, frozenset[str]]]:
    """Every listing built, as (document, caller scopes)."""
    seen: list[tuple[str, frozenset[str]]] = []
    build = listing._listing
    monkeypatch.setattr(listing, "_listing", lambda snap, doc, caller: seen.append((doc, caller)) or build(snap, doc, caller))
    return seen


async def test_completions_and_pages_after_the_first_do_not_rebuild_the_listing(tmp_path: Path, builds: list) -> None:
    server = build_server(_settings(tmp_path), transport="memory")
    ref = ResourceTemplateReference(type="ref/resource", uri="og://node/{id}")
    async with mcp.Client(server) as client:
        one = (await client.complete(ref, {"name": "id", "value": "big#s28"})).completion
        many = (await client.complete(ref, {"name": "id", "value": "big"})).completion
        again = (await client.complete(ref, {"name": "id", "value": "big%23s28"})).completion
        first = (await client.read_resource("og://doc/big")).contents[0].text
        second = (await client.read_resource("og://doc/big?start=40")).contents[0].text
    await server.state.aclose()
    assert one.values == again.values == [f"big#s{i}" for i in [28, *range(280, 290)] if i % 3 != 2] and one.total == 8
    assert many.values == [f"big#s{i}" for i in range(149) if i % 3 != 2] and many.has_more
    assert "# Big runbook (big v1.0, 200 nodes)" in first and "next page og://doc/big?start=" in first
    assert second.splitlines()[-1].startswith("nodes 41-")
    assert builds == [("big", frozenset({"public"}))]


async def test_each_role_reads_its_own_listing(tmp_path: Path, builds: list) -> None:
    settings = _settings(tmp_path)
    server = build_server(settings, transport="memory")
    admin, reader = (ToolContext(principal=principal_for(settings, role, role), state=server.state)
                     for role in ("admin", "reader"))  # fmt: skip
    for _ in range(2):
        assert og_resources.complete_node(admin, "id", "big#s2") == ["big#s2", *(f"big#s{i}" for i in range(20, 30))] + [
            f"big#s{i}" for i in range(200, 300)
        ][:90]
        assert og_resources.complete_node(reader, "id", "big#s2") == [
            f"big#s{i}" for i in [*range(20, 30), *range(200, 300)] if i % 3 != 2
        ]
        assert "of 300 (2000-token pages)" in og_resources.doc(admin, "big", "100")
        assert "of 200 (2000-token pages)" in og_resources.doc(reader, "big", "100")
    await server.state.aclose()
    assert sorted(builds, key=str) == [("big", frozenset({"*"})), ("big", frozenset({"public"}))]
