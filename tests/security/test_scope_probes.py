"""Hidden equals deleted through every MCP channel, for the variants a caller with a valid token tries.

A corpus with hidden sections (an admin-only section between public ones, a hidden step between
public steps, a hidden assertion that verifies and supersedes public nodes, a public assertion that
escalates to a hidden node, authored edges to hidden nodes, a document with no public node, a release
and a mixed release of hidden nodes) is served twice through the SDK's in-memory client, as the
`reader` role: once as written, once with the hidden sections deleted from the files. Every answer —
listings, search pages and cursors (also another role's cursor), resolve with id spellings (case,
confusables, NFC/NFD, percent-encoding, whitespace, separators), edges, budgets, assertions, versions,
resource URIs and completions — must be equal, and no hidden text may appear.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mcp
import pytest
from mcp.types import ResourceTemplateReference

from ogmux.server.app import build_server
from ogmux.server.auth import hash_token, new_token
from ogmux.server.settings import load_settings
from tests.integration.procs import authed, http_server

VAULT = """<!-- og:meta id=vault title="Vault" version=2.0 scope=public format=1.0 -->
<!-- og:changelog
version=1.0 date=2026-01-01 changed=intro summary="First."
version=1.5 date=2026-01-15 changed=intro,zqsecret summary="Mixed release summary."
version=2.0 date=2026-02-01 changed=zqsecret summary="Hidden release summary."
-->

<!-- og:node id=intro type=concept scopes=public -->
# Vault intro

Public text about vaults and keys. See [Zq hidden section](#zqsecret).
{secret}
<!-- og:node id=after type=concept scopes=public
:requires zqsecret
:see-also zqdoc#zqdoc, step2
:supersedes zqsecret
-->
## After

More public text about vaults. Mentions Zq hidden section.
{step2}
<!-- og:node id=step3 type=steps scopes=public -->
## Step 3

Public step three.

<!-- og:node id=pubcheck type=assertion scopes=public retries=0 escalate=zqsecret
:verifies intro
check: x gt 1
-->
### Public check

Checks x.

{check}"""
SECRET = """
<!-- og:node id=zqsecret type=concept scopes=admin version=2.0 -->
## Zq hidden section

Launch codes for vaults and keys, vaults.
"""
STEP2 = """
<!-- og:node id=step2 type=steps scopes=admin -->
## Step 2

Hidden step two.
"""
CHECK = """<!-- og:node id=zqcheck type=assertion scopes=admin retries=0 escalate=role:zqrole
:verifies intro, after
:supersedes intro
check: zqpath eq "zqvalue"
-->
### Zq check

Hidden check body.
"""
ZQDOC = """<!-- og:meta id=zqdoc title="Zqdoc" version=1.0 scope=admin format=1.0 -->

# Zqdoc

Hidden document body about vaults.
"""
# Text only a hidden node holds: it must never reach the reader (no argument below contains it).
HIDDEN_TEXT = ["Launch codes", "Hidden step", "Hidden check", "Hidden document", "zqvalue", "zqrole",
               "Mixed release", "Hidden release", "2026-02-01"]  # fmt: skip


def _write(root: Path, hidden: bool) -> Path:
    """The corpus as written, or with the hidden sections and the hidden document deleted (ids that name
    them, in edges and the changelog, are left as written)."""
    root.mkdir()
    parts = {"secret": SECRET, "step2": STEP2, "check": CHECK} if hidden else {"secret": "", "step2": "", "check": ""}
    (root / "vault.og").write_text(VAULT.format(**parts), encoding="utf-8")
    if hidden:
        (root / "zqdoc.og").write_text(ZQDOC, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("probes")
    return _write(base / "full", hidden=True), _write(base / "deleted", hidden=False)


def _server(corpus: Path, role: str, store: str = ""):
    settings = load_settings(None, **{
        "roles": {"admin": {}, "reader": {"tools": ["search_index", "resolve_context", "server_info"], "scopes": ["public"]}},
        "server.stdio_role": role, "objectgraph.corpus": str(corpus), "objectgraph.store": store, "audit.sink": "off",
        "rate_limit": {"rate": 100000, "burst": 100000},
    })  # fmt: skip
    return build_server(settings, transport="memory")


IDS = ["vault#zqsecret", "zqsecret", "vault#ZQSECRET", "VAULT#intro", "vault#intro ", "vault#intro\n", " vault#intro",
       "vault%23zqsecret", "vault#zqsecret%00", "vault#zq\u200bsecret", "vault#zq\u0455ecret", "vault#intro\u0301",
       "vault#inte\u0301", "vault#int\u00e9", "\uff56ault#intro", "vault#intro\r", "vault#\tintro", "vault/zqsecret",
       "vault:zqsecret", "vault.zqsecret", "zqdoc#zqdoc", "zqdoc", "vault#step2", "step2", "vault#zqcheck", "zqcheck",
       "vault#", "#zqsecret", "vault##zqsecret", "vault#intro#x", "vault#Intro"]  # fmt: skip
URIS = ["og://docs", "og://doc/vault", "og://doc/zqdoc", "og://doc/ZQDOC", "og://doc/zqdoc%20", "og://doc/zq%64oc",
        "og://doc/%7a%71doc", "og://doc/nonexistent", "og://doc/vault/changelog", "og://doc/zqdoc/changelog",
        "og://doc/nonexistent/changelog", "og://doc/vault%2Fchangelog", "og://node/vault%23zqsecret",
        "og://node/vault#zqsecret", "og://node/vault:zqsecret", "og://node/zqsecret", "og://node/vault%2523zqsecret",
        "og://node/vault%23intro", "og://node/zqdoc%23zqdoc", "og://node/nonexistent%23x", "og://node/vault%23step2",
        "og://node/step2", "og://node/%7a%71doc#zqdoc", "og://node/vault#zq%73ecret", "og://node/vault%23zqcheck",
        "og://doc/vault?start=2", "og://doc/vault?start=3", "og://doc/vault?start=99", "og://doc/zqdoc?start=0",
        "og://doc/vault?start=-1", "og://doc/vault?start=1e400", "og://doc/vault?start=%33", "og://doc/vault?start=3&start=0",
        "ogmux://tool/chat", "ogmux://tool/search_index"]  # fmt: skip
PREFIXES = ["", "z", "zq", "v", "vault#", "vault%23", "vault#z", "vault#s", "zqdoc#", "zqdoc%23", "VAULT", "vault#st"]
TEMPLATES = [("og://doc/{doc}", "doc"), ("og://node/{id}", "id"), ("og://doc/{doc}/changelog", "doc"),
             ("og://node/{doc}{#node}", "doc")]  # fmt: skip


def _tool_calls() -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    for q in ["vaults keys", "launch", "vaults", "zq", "hidden section", "step", "vault#zqsecret", "zqsecret", "step2",
              "zqdoc", "zqdoc#zqdoc", "zqcheck", "check", "codes"]:  # fmt: skip
        calls += [("search_index", {"query": q, "k": k}) for k in (1, 2, 50)]
    for ref in IDS:
        calls += [("resolve_context", {"ids": [ref]}), ("resolve_context", {"ids": [ref, "vault#intro"], "level": "full"})]
    for follow in ([":requires"], [":see-also"], [":precedes"], [":supersedes", ":verifies"],
                   [":see-also", ":precedes", ":requires", ":verifies", ":supersedes"]):  # fmt: skip
        for depth in (1, 64):
            for budget in (None, 1, 5, 1_000_000):
                args = {"ids": ["vault#intro", "vault#after", "vault#step3"], "follow": follow, "depth": depth}
                calls.append(("resolve_context", {**args, "token_budget": budget}))
    for state in ({"x": 0}, {"x": 5}, {"zqpath": "zq" + "value"}, {}):
        for level in ("index", "dense", "full"):
            calls.append(("resolve_context", {"ids": ["vault#intro"], "state": state, "level": level}))
            calls.append(("resolve_context", {"ids": ["vault#after", "vault#pubcheck"], "state": state, "level": level,
                                              "follow": [":verifies", ":requires", ":supersedes"], "depth": 3}))  # fmt: skip
    for version in ("0", "0.1", "1.0", "1.5", "1.9", "2.0", "2.1"):
        calls.append(("resolve_context", {"ids": ["vault#intro", "vault#after"], "since_version": version}))
    return calls


def _answer(result: Any) -> tuple[bool, str, str]:
    text = result.content[0].text if result.content else ""
    return bool(result.is_error), text, json.dumps(result.structured_content, sort_keys=True)


async def _listings(client: mcp.Client) -> list[Any]:
    return [
        sorted(t.name for t in (await client.list_tools()).tools),
        sorted(str(r.uri) for r in (await client.list_resources()).resources),
        sorted(t.uri_template for t in (await client.list_resource_templates()).resource_templates),
        sorted(p.name for p in (await client.list_prompts()).prompts),
    ]


async def _tools(client: mcp.Client, admin: mcp.Client) -> list[Any]:
    out: list[Any] = [_answer(await client.call_tool(name, args)) for name, args in _tool_calls()]
    for query in ("vaults", "keys"):  # another role's cursor, for the same query and for another one
        cursor = (await admin.call_tool("search_index", {"query": "vaults", "k": 1})).structured_content["next_cursor"]
        out.append(_answer(await client.call_tool("search_index", {"query": query, "k": 1, "cursor": cursor})))
    return out


async def _resources(client: mcp.Client) -> list[Any]:
    out = []
    for uri in URIS:
        try:
            out.append([c.text for c in (await client.read_resource(uri)).contents])
        except mcp.MCPError as exc:  # its message is part of the answer
            out.append(f"{type(exc).__name__}: {exc}")
    return out


async def _completions(client: mcp.Client) -> list[Any]:
    out = []
    for uri, name in TEMPLATES:
        ref = ResourceTemplateReference(type="ref/resource", uri=uri)
        for prefix in PREFIXES:
            done = (await client.complete(ref, {"name": name, "value": prefix})).completion
            out.append((uri, prefix, done.values, done.total, done.has_more))
    return out


async def _channel(channel: str, client: mcp.Client, admin: mcp.Client) -> list[Any]:
    if channel == "tools":
        return await _tools(client, admin)
    return await {"listings": _listings, "resources": _resources, "completions": _completions}[channel](client)


async def _answers(corpus: Path, channel: str, store: str = "") -> list[Any]:
    reader, admin = _server(corpus, "reader", store), _server(corpus, "admin", store)
    async with mcp.Client(reader) as client, mcp.Client(admin) as admin_client:
        out = await _channel(channel, client, admin_client)
    await reader.state.aclose()
    await admin.state.aclose()
    return out


@pytest.mark.parametrize("channel", ["listings", "tools", "resources", "completions"])
async def test_every_channel_answers_as_if_hidden_nodes_were_deleted(corpora: tuple[Path, Path], channel: str) -> None:
    full, deleted = corpora
    got, expected = await _answers(full, channel), await _answers(deleted, channel)
    assert len(got) == len(expected)
    for i, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert a == b, f"{channel} answer {i} differs"
    blob = json.dumps(got)
    assert not [t for t in HIDDEN_TEXT if t in blob]


async def test_the_corpus_really_hides_something(corpora: tuple[Path, Path]) -> None:
    """The admin sees every hidden node of the full copy: the comparison above is not between two empty corpora."""
    admin = _server(corpora[0], "admin")
    async with mcp.Client(admin) as client:
        index = (await client.read_resource("og://doc/vault")).contents[0].text
        docs = (await client.read_resource("og://docs")).contents[0].text
    await admin.state.aclose()
    assert all(f"vault#{n}" in index for n in ("zqsecret", "step2", "zqcheck")) and "zqdoc" in docs


CHANNELS = ["listings", "tools", "resources", "completions"]


async def test_one_server_answers_a_reader_alike_after_an_admin_asked_everything(
    corpora: tuple[Path, Path], tmp_path: Path
) -> None:
    """Over streamable HTTP, one server and two tokens: the admin asks every question first (filling any
    per-snapshot cache), then the reader asks them; the reader's answers equal those over the deleted files."""
    tokens = {role: new_token() for role in ("admin", "reader")}
    config = tmp_path / "ogmux.toml"
    config.write_text(
        f'[server]\nlog_level = "ERROR"\n[audit]\nsink = "off"\n[rate_limit]\nrate = 100000\nburst = 100000\n'
        f'[objectgraph]\ncorpus = "{corpora[0]}"\n[roles.admin]\ntools = ["*"]\nscopes = ["*"]\n'
        '[roles.reader]\ntools = ["search_index", "resolve_context", "server_info"]\nscopes = ["public"]\n'
        + "".join(f'[[tokens]]\nprincipal = "{r}"\nrole = "{r}"\nhash = "{hash_token(t)}"\n' for r, t in tokens.items())
    )
    with http_server(config) as url:
        async with mcp.Client(authed(url, tokens["reader"])) as reader, mcp.Client(authed(url, tokens["admin"])) as admin:
            for channel in CHANNELS:
                await _channel(channel, admin, admin)
            got = [await _channel(channel, reader, admin) for channel in CHANNELS]
    expected = [await _answers(corpora[1], channel) for channel in CHANNELS]
    for channel, a, b in zip(CHANNELS, got, expected, strict=True):
        assert a == b, channel


@pytest.fixture(scope="module")
def stores(corpora: tuple[Path, Path]) -> Iterator[tuple[str, str]]:
    """The two corpora pushed into two databases of one real PostgreSQL cluster."""
    from ogmux.tools.objectgraph.config import ObjectGraphConfig
    from ogmux.tools.objectgraph.corpus import Corpus
    from ogmux.tools.objectgraph.store import push_snapshot
    from tests.integration.engines import postgres_server
    from tests.integration.store_db import new_database

    with postgres_server() as pg:
        dsns = []
        for root in corpora:
            dsn = new_database(pg)
            push_snapshot(dsn, Corpus(root, ObjectGraphConfig()).snapshot())
            dsns.append(dsn)
        yield dsns[0], dsns[1]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_the_document_store_answers_as_if_hidden_nodes_were_deleted(
    corpora: tuple[Path, Path], stores: tuple[str, str], channel: str
) -> None:
    """The same probes against servers that read the corpus from PostgreSQL (`objectgraph.store`), whose
    search and scope filter run in SQL."""
    full, deleted = [await _answers(root, channel, dsn) for root, dsn in zip(corpora, stores, strict=True)]
    for i, (a, b) in enumerate(zip(full, deleted, strict=True)):
        assert a == b, f"{channel} answer {i} differs"
    assert not [t for t in HIDDEN_TEXT if t in json.dumps(full)]
