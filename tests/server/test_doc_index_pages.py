"""`og://doc/{doc}{?start}` answers one bounded page of a document's index at a time, through the SDK's
in-memory client: a reader following the next-page links sees exactly the index of the files with the
sections it may not see deleted, page by page, counts and errors included."""

from __future__ import annotations

import re
from pathlib import Path

import mcp
import pytest
from mcp.shared.exceptions import MCPError

from ogmux.server.app import build_server
from ogmux.server.mcp_resources import objectgraph as og_resources
from ogmux.server.settings import load_settings
from ogmux.tools.objectgraph.tokens import count_tokens

SECTIONS = 240  # every third one admin-only: 160 public sections, several pages
PAGE_OVERHEAD = 120  # tokens of the heading, fence lines and the last line, outside the page's index lines


def _big(with_hidden: bool) -> str:
    parts = ['<!-- og:meta id=big title="Big runbook" version=1.0 scope=public -->\n']
    for i in range(SECTIONS):
        hidden = i % 3 == 2
        if hidden and not with_hidden:
            continue
        scope = "admin" if hidden else "public"
        parts.append(
            f"<!-- og:node id=s{i} type=steps scopes={scope} -->\n## Section {i} of the runbook\n\n"
            f"Restart worker {i} when its queue holds more than {i * 10} jobs, then check the logs of pool {i}.\n\n"
        )
    return "".join(parts)


SECRET = """<!-- og:meta id=secret title="Secret" version=1.0 -->

<!-- og:node id=plan type=concept scopes=admin -->
## Plan

Only admins read this.
"""


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("pages")
    roots = base / "full", base / "deleted"
    for root, with_hidden in zip(roots, (True, False), strict=True):
        root.mkdir()
        (root / "big.og").write_text(_big(with_hidden), encoding="utf-8")
        if with_hidden:
            (root / "secret.og").write_text(SECRET, encoding="utf-8")
    return roots


def _server(corpus: Path, role: str = "reader"):
    settings = load_settings(None, **{
        "roles": {"admin": {}, "reader": {"tools": ["search_index", "resolve_context"], "scopes": ["public"]}},
        "server.stdio_role": role,
        "objectgraph.corpus": str(corpus),
        "audit.sink": "off",
        "rate_limit": {"rate": 1000, "burst": 1000},
    })  # fmt: skip
    return build_server(settings, transport="memory")


async def _read_all(corpus: Path, role: str = "reader") -> list[str]:
    """Every page of og://doc/big, following each page's next-page link."""
    server = _server(corpus, role)
    pages: list[str] = []
    async with mcp.Client(server) as client:
        uri: str | None = "og://doc/big"
        while uri is not None:
            pages.append((await client.read_resource(uri)).contents[0].text)
            nxt = re.search(r"next page (og://\S+),", pages[-1])
            uri = nxt[1] if nxt else None
            assert len(pages) <= 200
    await server.state.aclose()
    return pages


def _ids(pages: list[str]) -> list[str]:
    return [m for page in pages for m in re.findall(r"^- (big#s\d+) ", page, re.MULTILINE)]


async def test_pages_are_bounded_and_together_list_every_visible_node_once(
    corpora: tuple[Path, Path],
) -> None:
    pages = await _read_all(corpora[0])
    public = [f"big#s{i}" for i in range(SECTIONS) if i % 3 != 2]
    assert len(pages) > 2
    assert _ids(pages) == public  # in source order, none twice, none hidden
    for page in pages:
        assert count_tokens(page) <= og_resources.INDEX_PAGE_TOKENS + PAGE_OVERHEAD
        assert page.startswith("<<<og-data") and "# Big runbook (big v1.0, 160 nodes)" in page
    shown = [len(re.findall(r"^- big#", p, re.MULTILINE)) for p in pages]
    assert (
        f"nodes 1-{shown[0]} of 160 (2000-token pages); {160 - shown[0]} nodes left out: next page "
        f"og://doc/big?start={shown[0]}, or search_index to find sections by topic"
        == pages[0].splitlines()[-1]
    )
    assert (
        pages[-1].splitlines()[-1] == f"nodes {160 - shown[-1] + 1}-160 of 160 (2000-token pages); last page"
    )
    admin = await _read_all(corpora[0], "admin")
    assert len(_ids(admin)) == SECTIONS and len(admin) > len(pages)


async def test_a_reader_pages_exactly_as_if_hidden_sections_were_deleted(corpora: tuple[Path, Path]) -> None:
    full, deleted = [await _read_all(root) for root in corpora]
    assert full == deleted


async def test_a_small_document_is_one_page_without_a_page_line(corpora: tuple[Path, Path]) -> None:
    server = _server(corpora[0], "admin")
    async with mcp.Client(server) as client:
        text = (await client.read_resource("og://doc/secret")).contents[0].text
    await server.state.aclose()
    assert text.splitlines()[-1].startswith("<<<end og-data") and "secret#plan" in text


async def test_a_line_larger_than_the_page_still_makes_progress(
    corpora: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(og_resources, "INDEX_PAGE_TOKENS", 1)
    pages = await _read_all(corpora[1])
    assert len(pages) == 160 and all(len(re.findall(r"^- big#", p, re.MULTILINE)) == 1 for p in pages)


@pytest.mark.parametrize(
    ("uri", "error"),
    [
        (
            "og://doc/big?start=abc",
            "start='abc' is not a whole number from 0 to 1000000; use the start= that a page",
        ),
        ("og://doc/big?start=-1", "start='-1' is not a whole number"),
        ("og://doc/big?start=1e400", "start='1e400' is not a whole number"),
        ("og://doc/big?start=" + "9" * 5000, "is not a whole number"),
        ("og://doc/big?start=160", "start=160 is past the end: big has 160 nodes you can read"),
        ("og://doc/secret?start=0", "not found"),  # hidden: answers as a missing document
        ("og://doc/nothing?start=0", "not found"),
        ("og://doc/secret?start=x", "is not a whole number"),
    ],
)
async def test_a_bad_start_is_a_clear_error_and_hidden_documents_answer_as_missing(
    corpora: tuple[Path, Path], uri: str, error: str
) -> None:
    messages = []
    for root in corpora:
        server = _server(root)
        async with mcp.Client(server) as client:
            with pytest.raises(MCPError) as refused:
                await client.read_resource(uri)
        await server.state.aclose()
        messages.append(refused.value.message)
    assert messages[0] == messages[1]
    assert error in messages[0] and len(messages[0]) < 400
