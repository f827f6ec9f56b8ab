"""The corpus served from a real PostgreSQL 15: `ogmux corpus push`, versions, scoped SQL queries, outages.

Every test pushes into its own database of the session's cluster (`pg_cluster`).
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import mcp
import psycopg
import pytest

from ogmux.demo import CORPUS as DEMO
from ogmux.server import documents
from ogmux.server.app import build_server
from ogmux.server.cli import main
from ogmux.server.settings import load_settings
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import Corpus
from ogmux.tools.objectgraph.snapshot import Snapshot
from ogmux.tools.objectgraph.store import (
    DocumentStore,
    MemoryView,
    StoreEmptyError,
    StoreUnavailableError,
    StoreView,
    push_snapshot,
)
from tests.integration.engines import PostgresServer
from tests.integration.store_db import new_database
from tests.tools.objectgraph.documents import VAULT

LEXICAL = ObjectGraphConfig(reload=False, ranking="lexical")



@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    for p in DEMO.iterdir():
        if p.suffix in (".og", ".md"):
            shutil.copy(p, root / p.name)
    (root / "vault.og").write_text(VAULT, encoding="utf-8")
    return root


def _snapshot(root: Path) -> Snapshot:
    return Corpus(root, LEXICAL).snapshot()


QUERIES = ["restart the server", "rate limit token bucket", "root key rotation vault", "configure vllm backends", "zzz"]
CALLERS = [None, frozenset({"public"}), frozenset({"dev"}), frozenset({"admin"})]


def test_store_answers_exactly_like_memory(pg_cluster: PostgresServer, corpus_dir: Path) -> None:
    """Same ranking (scores, totals, cursors), resolve, listings, per role, as the in-memory corpus."""
    snap = _snapshot(corpus_dir)
    dsn = new_database(pg_cluster)
    push_snapshot(dsn, snap)
    store = DocumentStore(dsn)
    try:
        view, mem = StoreView(store), MemoryView(snap)
        ids = list(snap.nodes)
        for scopes in CALLERS:
            for q in QUERIES:
                first = view.search(q, k=3, scopes=scopes, config=LEXICAL)
                assert first == mem.search(q, k=3, scopes=scopes, config=LEXICAL)
                if first.next_cursor:
                    nxt = view.search(q, k=3, cursor=first.next_cursor, scopes=scopes, config=LEXICAL)
                    assert nxt == mem.search(q, k=3, cursor=first.next_cursor, scopes=scopes, config=LEXICAL)
                reranked = view.search(q, k=3, scopes=scopes, config=RERANK, complete=_model)
                assert reranked == mem.search(q, k=3, scopes=scopes, config=RERANK, complete=_model)
            for options in (
                {"level": "full", "depth": 3, "follow": [":requires", ":see-also", ":precedes"]},
                {"level": "dense", "since_version": "1.0", "state": {"x": 1}},
                {"level": "index", "token_budget": 40},
            ):
                for start in range(0, len(ids), 5):
                    refs = [*ids[start : start + 5], "rotation", "vault#nope"]
                    assert view.resolve(refs, scopes=scopes, config=LEXICAL, **options) == mem.resolve(
                        refs, scopes=scopes, config=LEXICAL, **options
                    )
            assert view.documents(scopes) == mem.documents(scopes)
            for doc in [*snap.docs, "nope"]:
                for call in ("document_index", "changelog"):
                    assert _outcome(getattr(view, call), doc, scopes) == _outcome(getattr(mem, call), doc, scopes)
            for ref in [*ids, "rotation", "vault#nope"]:
                assert _outcome(view.node_source, ref, scopes) == _outcome(mem.node_source, ref, scopes)
    finally:
        store.close()


RERANK = LEXICAL.model_copy(update={"rerank": "llm", "rerank_candidates": 4})


def _model(messages: list[dict[str, str]]) -> str:
    """A deterministic stand-in for the re-ranking model (no model runs in this test): reverses the candidates."""
    return ", ".join(str(i) for i in reversed(range(messages[0]["content"].count("\n["))))


def _outcome(call, *args):
    try:
        return call(*args)
    except LookupError as exc:
        return str(exc)


def test_hidden_nodes_never_leave_the_database(pg_cluster: PostgresServer, corpus_dir: Path) -> None:
    """What a reader's queries return holds no row of an admin-only node (checked on the rows SQL returns)."""
    dsn = new_database(pg_cluster)
    push_snapshot(dsn, _snapshot(corpus_dir))
    store = DocumentStore(dsn)
    rows: list[object] = []
    original = psycopg.Cursor.fetchall

    def spy(self):  # every row any query of the reader's calls brings back
        out = original(self)
        rows.extend(out)
        return out

    try:
        view, reader = StoreView(store), frozenset({"dev"})
        psycopg.Cursor.fetchall = spy  # type: ignore[method-assign]
        view.search("root key rotation xylophone vault operator", k=10, scopes=reader, config=LEXICAL)
        view.resolve(["vault#howto", "rotation"], scopes=reader, depth=3, since_version="1.0", state={})
        view.documents(reader)
        view.document_index("vault", reader)
        view.changelog("vault", reader)
        with pytest.raises(LookupError):
            view.node_source("vault#rotation", reader)
    finally:
        psycopg.Cursor.fetchall = original  # type: ignore[method-assign]
        store.close()
    assert rows and "xylophone" not in repr(rows) and "vault#rotation" not in repr(rows)


def test_push_replaces_the_corpus_and_replicas_switch_without_restart(pg_cluster: PostgresServer, corpus_dir: Path) -> None:
    dsn = new_database(pg_cluster)
    store = DocumentStore(dsn, reload_interval_s=0)
    try:
        with pytest.raises(StoreEmptyError, match="ogmux corpus push"):
            StoreView(store)
        first = push_snapshot(dsn, _snapshot(DEMO))
        before = StoreView(store)
        assert "vault" not in {d.id for d in before.documents()}
        second = push_snapshot(dsn, _snapshot(corpus_dir))
        assert second.version == first.version + 1
        after = StoreView(store)
        assert after.version == second.version
        assert "vault" in {d.id for d in after.documents()}
        assert "vault" not in {d.id for d in before.documents()}  # a request keeps the version it started with
        third = push_snapshot(dsn, _snapshot(DEMO))
        assert third.dropped == (first.version,)  # the newest two versions are kept
    finally:
        store.close()


def test_a_failed_push_changes_nothing(pg_cluster: PostgresServer, corpus_dir: Path) -> None:
    dsn = new_database(pg_cluster)
    good = _snapshot(DEMO)
    pushed = push_snapshot(dsn, good)
    bad = _snapshot(corpus_dir)
    last = list(bad.nodes)[-1]
    # PostgreSQL refuses NUL in text: the push fails after most rows were already written.
    bad.nodes[last] = replace(bad.nodes[last], full=bad.nodes[last].full + "\x00")
    with pytest.raises(psycopg.Error):
        push_snapshot(dsn, Snapshot(docs=bad.docs, nodes=bad.nodes))
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT version FROM ogmux.current").fetchone() == (pushed.version,)
        assert conn.execute("SELECT version FROM ogmux.versions").fetchall() == [(pushed.version,)]
        schemas = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'ogmux_v%'").fetchall()
        assert schemas == [(f"ogmux_v{pushed.version}",)]
    store = DocumentStore(dsn)
    try:
        assert {d.id for d in StoreView(store).documents()} == set(good.docs)
    finally:
        store.close()


def test_corpus_push_checks_every_file_first(pg_cluster: PostgresServer, corpus_dir: Path, tmp_path: Path, capsys) -> None:
    dsn = new_database(pg_cluster)
    assert main(["corpus", "push", str(DEMO), "--store", dsn]) == 0
    assert "pushed version 1: 4 documents" in capsys.readouterr().out
    broken = tmp_path / "broken"
    shutil.copytree(corpus_dir, broken)
    (broken / "vault.og").write_text(VAULT.replace("id=rotation", "id=howto"), encoding="utf-8")
    assert main(["check", str(broken)]) == 1
    check = capsys.readouterr().out
    assert "vault.og:" in check and "error" in check
    assert main(["corpus", "push", str(broken), "--store", dsn]) == 1
    out = capsys.readouterr()
    assert out.out == check  # the same located errors as `ogmux check`
    assert "nothing pushed" in out.err
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT version FROM ogmux.current").fetchone() == (1,)
    assert main(["corpus", "push", str(DEMO), "--store", "postgresql://postgres@127.0.0.1:1/none"]) == 3
    assert "nothing pushed: document store postgres@127.0.0.1:1/none is unreachable" in capsys.readouterr().err


def _server(dsn: str, role: str):
    settings = load_settings(
        None,
        **{
            "roles": {"admin": {}, "reader": {"scopes": ["public", "dev"], "tools": ["search_index", "resolve_context"]}},
            "server.stdio_role": role,
            "objectgraph.store": dsn,
            "objectgraph.ranking": "lexical",
            "objectgraph.reload_interval_s": 0,
            "audit.sink": "off",
        },
    )
    return build_server(settings, transport="memory")


async def test_mcp_tools_and_resources_serve_from_the_store(pg_cluster: PostgresServer, corpus_dir: Path) -> None:
    dsn = new_database(pg_cluster)
    push_snapshot(dsn, _snapshot(corpus_dir))
    async with mcp.Client(_server(dsn, "reader")) as c:
        res = await c.call_tool("search_index", {"query": "root key rotation vault operator", "k": 10})
        assert not res.is_error, res.content
        assert "vault#howto" in [e["id"] for e in res.structured_content["entries"]]
        assert "xylophone" not in res.content[0].text and "vault#rotation" not in str(res.structured_content)
        res = await c.call_tool("resolve_context", {"ids": ["vault#howto"], "level": "full", "depth": 3})
        assert [n["id"] for n in res.structured_content["nodes"]] == ["vault#howto"]
        hidden = await c.call_tool("resolve_context", {"ids": ["vault#rotation"]})
        assert hidden.is_error and "not found" in hidden.content[0].text
    admin = _server(dsn, "admin")
    async with mcp.Client(admin) as c:
        res = await c.call_tool("resolve_context", {"ids": ["vault#howto"], "level": "full"})
        assert [n["id"] for n in res.structured_content["nodes"]] == ["vault#rotation", "vault#howto"]
        docs = await c.read_resource("og://docs")
        assert "vault" in docs.contents[0].text
        node = await c.read_resource("og://node/vault%23rotation")
        assert "xylophone-42" in node.contents[0].text
        push_snapshot(dsn, _snapshot(DEMO))
        docs = await c.read_resource("og://docs")
        assert "vault" not in docs.contents[0].text  # the next request reads the new version
    assert documents.COMPONENT not in admin.state._components  # the corpus was never loaded into the process


async def test_database_outage_is_a_clear_tool_error_until_it_returns(pg_cluster: PostgresServer) -> None:
    dsn = new_database(pg_cluster)
    push_snapshot(dsn, _snapshot(DEMO))
    server = _server(dsn, "admin")
    async with mcp.Client(server) as c:
        ok = await c.call_tool("search_index", {"query": "restart"})
        assert not ok.is_error
        pg_cluster.stop()
        try:
            down = await c.call_tool("search_index", {"query": "restart"})
            assert down.is_error
            text = down.content[0].text
            assert text.startswith("search_index: document store unavailable:") and "retry" in text
            assert "Traceback" not in text and "postgres@" not in text
        finally:
            pg_cluster.start()
        back = await c.call_tool("search_index", {"query": "restart"})
        assert not back.is_error, back.content
        assert back.structured_content == ok.structured_content


def test_store_view_errors_name_the_outage(pg_cluster: PostgresServer) -> None:
    store = DocumentStore("postgresql://postgres@127.0.0.1:1/none", timeout_s=1)
    try:
        with pytest.raises(StoreUnavailableError, match="document store unavailable: .*retry"):
            StoreView(store)
    finally:
        store.close()
