"""The document list and listings a store replica caches follow the store: a push by `ogmux corpus push` in
another process is served at the next request, and a database emptied and pushed to again (whose version
numbers restart) never meets the listings cached for the corpus it held before.

The cache never mixing scope keys is part of the hidden-equals-deleted property (test_store_access.py).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import anyio
import mcp
import psycopg
import pytest
from mcp.types import ResourceTemplateReference

from ogmux.demo import CORPUS as DEMO
from ogmux.server.app import build_server
from ogmux.server.settings import load_settings
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import Corpus
from ogmux.tools.objectgraph.store import DocumentStore, StoreView, push_snapshot
from tests.integration.engines import PostgresServer
from tests.integration.store_db import new_database
from tests.tools.objectgraph.documents import VAULT

NODE = ResourceTemplateReference(type="ref/resource", uri="og://node/{id}")
READER = frozenset({"dev"})
# The admin-only node made public and the other one renamed: what a reader's listing shows changes both ways.
CHANGED_VAULT = VAULT.replace(" scopes=admin", "").replace("## Rotating keys", "## Turning keys")
SECRET = (
    '<!-- og:meta id=secret title="Secret" version=1.0 scope=admin -->\n## Keys\n\nWhere the keys are kept.\n'
)


def _corpus(root: Path, vault: str) -> Path:
    root.mkdir()
    for p in DEMO.iterdir():
        if p.suffix in (".og", ".md"):
            shutil.copy(p, root / p.name)
    (root / "vault.og").write_text(vault, encoding="utf-8")
    return root


def _server(dsn: str):
    settings = load_settings(None, **{
        "roles": {"reader": {"scopes": ["public", "dev"], "tools": ["search_index"]}},
        "server.stdio_role": "reader",
        "objectgraph.store": dsn,
        "objectgraph.reload_interval_s": 0,
        "audit.sink": "off",
    })  # fmt: skip
    return build_server(settings, transport="memory")


async def _read(c: mcp.Client, uri: str) -> str:
    return (await c.read_resource(uri)).contents[0].text


async def test_a_push_from_another_process_replaces_cached_pages_completions_and_documents(
    pg_cluster: PostgresServer, tmp_path: Path
) -> None:
    dsn = new_database(pg_cluster)
    before, after = _corpus(tmp_path / "before", VAULT), _corpus(tmp_path / "after", CHANGED_VAULT)
    push_snapshot(dsn, Corpus(before, ObjectGraphConfig(reload=False)).snapshot())
    async with mcp.Client(_server(dsn)) as c:
        for _ in range(2):  # the second answers come from the cache
            page = await _read(c, "og://doc/vault")
            assert "Rotating keys" in page and "vault#rotation" not in page
            assert (await c.complete(NODE, {"name": "id", "value": "vault#"})).completion.values == [
                "vault#howto"
            ]
            assert "Vault (1 node)" in await _read(c, "og://docs")
        push = [sys.executable, "-m", "ogmux", "corpus", "push", str(after), "--store", dsn]
        await anyio.run_process(push, check=True)
        page = await _read(c, "og://doc/vault")
        assert "Turning keys" in page and "Rotating keys" not in page and "vault#rotation" in page
        values = (await c.complete(NODE, {"name": "id", "value": "vault#"})).completion.values
        assert values == ["vault#howto", "vault#rotation"]
        assert "Vault (2 nodes)" in await _read(c, "og://docs")


def test_a_database_emptied_and_pushed_to_again_is_not_served_from_the_cache(
    pg_cluster: PostgresServer, tmp_path: Path
) -> None:
    dsn = new_database(pg_cluster)
    config = ObjectGraphConfig(reload=False)
    push_snapshot(dsn, Corpus(_corpus(tmp_path / "before", VAULT), config).snapshot())
    store = DocumentStore(dsn, reload_interval_s=0)
    try:
        first = StoreView(store)
        assert [line.id for line in first.document_listing("vault", READER).lines()] == ["vault#howto"]
        assert [d.nodes for d in first.documents(READER) if d.id == "vault"] == [1]
        with psycopg.connect(
            dsn, autocommit=True
        ) as conn:  # as a restore, or a new database at the same address
            conn.execute(f"DROP SCHEMA ogmux CASCADE; DROP SCHEMA ogmux_v{first.version} CASCADE")
        again = push_snapshot(dsn, Corpus(_corpus(tmp_path / "after", CHANGED_VAULT), config).snapshot())
        assert again.version == first.version  # the number alone cannot tell the two corpora apart
        view = StoreView(store)
        assert [line.id for line in view.document_listing("vault", READER).lines()] == [
            "vault#howto",
            "vault#rotation",
        ]
        assert [d.nodes for d in view.documents(READER) if d.id == "vault"] == [2]
    finally:
        store.close()


def test_an_unknown_or_hidden_document_reads_no_row_once_the_document_list_is_cached(
    pg_cluster: PostgresServer, tmp_path: Path
) -> None:
    """Completions name any document; one the caller cannot read answers from the cached document list."""
    dsn = new_database(pg_cluster)
    root = _corpus(tmp_path / "corpus", VAULT)
    (root / "secret.og").write_text(SECRET, encoding="utf-8")
    push_snapshot(dsn, Corpus(root, ObjectGraphConfig(reload=False)).snapshot())
    store = DocumentStore(dsn, reload_interval_s=3600)
    try:
        view = StoreView(store)
        assert "secret" in {d.id for d in view.documents(None)}
        assert "secret" not in {d.id for d in view.documents(READER)}
        store.close()  # any query now fails
        for doc in ("nope", "secret"):
            with pytest.raises(LookupError, match="og://docs lists the documents you can read"):
                view.document_listing(doc, READER)
    finally:
        store.close()
