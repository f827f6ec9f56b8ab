"""A real `ogmux serve --http` with static tokens, probed the way a caller holding a valid token would:
header tricks, hostile JSON values, a flood against the rate limit. Each refusal is a clear message
(never a traceback or a 500), and the server keeps answering afterwards."""

from __future__ import annotations

import json

import httpx
import pytest

from ogmux.server.auth import hash_token, new_token
from tests.integration.procs import http_server

HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
           "MCP-Protocol-Version": "2025-06-18"}  # fmt: skip
ROLES = {"admin": '["*"]', "reader": '["server_info", "search_index", "resolve_context"]', "lister": '["server_info"]'}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("http-probes")
    tokens = {role: new_token() for role in ROLES}
    lines = ['[server]\nlog_level = "ERROR"\n', '[audit]\nsink = "off"\n', "[rate_limit]\nrate = 1000\nburst = 1000\n"]
    for role, tools in ROLES.items():
        rate = "\nrate_limit = { rate = 0.5, burst = 4 }" if role != "admin" else ""
        lines.append(f'[roles.{role}]\ntools = {tools}\nscopes = ["*"]{rate}\n')
        lines.append(f'[[tokens]]\nprincipal = "{role}-user"\nrole = "{role}"\nhash = "{hash_token(tokens[role])}"\n')
    config = tmp / "ogmux.toml"
    config.write_text("\n".join(lines))
    with http_server(config) as url, httpx.Client(timeout=30) as client:
        yield {"url": url, "tokens": tokens, "client": client}


def _call(env, arguments: str, *, tool: str = "server_info", headers: list[tuple[str, str]] | None = None,
          token: str = "admin") -> httpx.Response:  # fmt: skip
    """POST one tools/call whose `arguments` are raw JSON text (so NaN and the like reach the server as sent)."""
    body = f'{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{tool}","arguments":{arguments}}}}}'
    sent = list(HEADERS.items()) + (headers if headers is not None else [("Authorization", f"Bearer {env['tokens'][token]}")])
    return env["client"].post(env["url"], content=body, headers=httpx.Headers(sent))


def _result(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    data = next(line for line in response.text.splitlines() if line.startswith("data: "))
    return json.loads(data.removeprefix("data: "))["result"]


def _who(response: httpx.Response) -> str:
    return _result(response)["structuredContent"]["principal"]


@pytest.mark.parametrize(
    ("header", "principal"),
    [("Bearer {admin}", "admin-user"), ("bearer {reader}", "reader-user"), ("BEARER {reader}", "reader-user"),
     ("Bearer  {reader}", None), ("Basic {reader}", None), ("Bearer {reader}x", None), ("Bearer x{reader}", None),
     ("Bearer {reader},{admin}", None), ("Bearer {reader} {admin}", None), ("{reader}", None)],
)  # fmt: skip
def test_authorization_header_variants(env, header: str, principal: str | None) -> None:
    r = _call(env, "{}", headers=[("Authorization", header.format(**env["tokens"]))])
    if principal is None:
        assert r.status_code == 401 and "Traceback" not in r.text
    else:
        assert _who(r) == principal


@pytest.mark.parametrize(("first", "second", "principal"), [("reader", "admin", "reader-user"), ("bad", "admin", None)])
def test_a_second_authorization_header_changes_nothing(env, first: str, second: str, principal: str | None) -> None:
    """The first header decides, for the check and for the principal alike: no role is taken from the second."""
    tokens = {**env["tokens"], "bad": "garbage"}
    r = _call(env, "{}", headers=[("Authorization", f"Bearer {tokens[first]}"), ("Authorization", f"Bearer {tokens[second]}")])
    if principal is None:
        assert r.status_code == 401
    else:
        assert _who(r) == principal


@pytest.mark.parametrize(
    ("name", "value", "status"),
    [("Host", "evil.example", 421), ("Host", "evil.example:80", 421), ("Host", "127.0.0.1.evil.example:80", 421),
     ("Host", "localhost.evil.example", 421), ("Origin", "http://evil.example", 403), ("Origin", "null", 403),
     ("Origin", "http://127.0.0.1.evil.example", 403), ("Origin", "file://", 403)],
)  # fmt: skip
def test_foreign_host_and_origin_are_refused_even_with_a_valid_token(env, name: str, value: str, status: int) -> None:
    r = _call(env, "{}", headers=[("Authorization", f"Bearer {env['tokens']['admin']}"), (name, value)])
    assert r.status_code == status


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [("search_index", '{"query": "x", "k": NaN}', "k: Input should be a finite number"),
     ("search_index", '{"query": "x", "k": Infinity}', "k: Input should be a finite number"),
     ("search_index", '{"query": "x", "k": 1e400}', "k: Input should be a finite number"),
     ("search_index", '{"query": "x", "k": 0}', "k: Input should be greater than or equal to 1"),
     ("search_index", '{"query": "x", "k": 2.5}', "k: Input should be a valid integer"),
     ("search_index", '{"query": ["x"]}', "query: Input should be a valid string"),
     ("search_index", '{"query": "x", "cursor": "eyJxIjogIngiLCAibyI6IDFlNDAwfQ=="}', "cursor"),
     ("resolve_context", '{"ids": "vault#intro"}', "ids: Input should be a valid list"),
     ("resolve_context", '{"ids": ["a#b"], "depth": -1}', "depth: Input should be greater than or equal to 0"),
     ("resolve_context", '{"ids": ["a#b"], "depth": 1e9}', "depth: Input should be less than or equal to 64"),
     ("resolve_context", '{"ids": ["a#b"], "token_budget": -Infinity}', "token_budget: Input should be a finite number"),
     ("resolve_context", '{"ids": ["a#b"], "since_version": "1.0\\n"}', "since_version: String should match pattern"),
     ("resolve_context", '{"ids": ["a#b"], "attempt": 0}', "attempt: Input should be greater than or equal to 1"),
     ("resolve_context", '{"ids": ["a#b"], "follow": [":zq"]}', ":zq"),
     ("resolve_context", '{"ids": ["a#b"], "state": {"x": NaN}}', "not found"),
     ("resolve_context", '{"ids": ["a#b"], "__proto__": 1}', "__proto__: unknown argument")],
)  # fmt: skip
def test_hostile_argument_values_get_a_clear_tool_error(env, tool: str, arguments: str, message: str) -> None:
    result = _result(_call(env, arguments, tool=tool))
    text = result["content"][0]["text"]
    assert result["isError"] and message in text and "Traceback" not in text and "internal error" not in text


@pytest.mark.parametrize(
    "arguments",
    ['{"ids": ["a#b"], "state": {"x": ' + "[" * 10_000 + "]" * 10_000 + "}}",  # nesting
     '{"ids": ["a#b"], "depth": ' + "9" * 5000 + "}",  # an integer over Python's 4,300-digit str() limit
     '{"ids": ["a#b"], "state": {"x": 1', "{not json"],
)  # fmt: skip
def test_unparseable_bodies_are_a_json_rpc_parse_error(env, arguments: str) -> None:
    r = _call(env, arguments, tool="resolve_context")
    assert r.status_code == 400 and r.json()["error"]["code"] == -32700
    assert _who(_call(env, "{}")) == "admin-user"  # still serving


def test_a_flood_is_refused_for_its_principal_only(env) -> None:
    """reader: 4 calls at once, then one every 2 s. Unknown tools and bad arguments cost a call too."""
    answers = [_call(env, "{}", tool=tool, token="reader") for tool in ("server_info", "zq_unknown", "search_index") * 3]
    texts = [_result(r)["content"][0]["text"] for r in answers]
    refused = [t for t in texts if t.startswith("rate limit exceeded for principal 'reader-user'")]
    assert len(refused) >= len(texts) - 5 and all("retry" in t for t in refused)
    assert _who(_call(env, "{}")) == "admin-user"  # the admin's bucket is untouched


def test_a_get_stream_is_refused_not_held(env) -> None:
    """Stateless mode never sends on a GET stream, yet each one stayed open for good: 1,000 of them held
    1,000 descriptors and 81 MB of one principal's making, outside any rate limit."""
    headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {env['tokens']['reader']}"}
    r = env["client"].get(env["url"], headers=headers, timeout=5)
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert r.json()["error"]["message"].startswith("Method Not Allowed: this server is stateless")


def test_listings_are_charged_to_the_rate_limit(env) -> None:
    """Listings were free: 16 connections listing tools as fast as they could (126 a second) took other
    principals' searches from 7 to 264 ms (p50). lister: 4 calls at once, then one every 2 s."""
    methods = ["tools/list", "resources/list", "resources/templates/list", "prompts/list"] * 3
    headers = {**HEADERS, "Authorization": f"Bearer {env['tokens']['lister']}"}
    refused = set()
    for method in methods:
        answer = env["client"].post(env["url"], json={"jsonrpc": "2.0", "id": 1, "method": method, "params": {}}, headers=headers)
        reply = json.loads(answer.text.split("data: ", 1)[1])
        if "error" in reply:
            assert reply["error"]["message"].startswith("rate limit exceeded for principal 'lister-user (listings)'")
            refused.add(method)
    assert refused == set(methods)
