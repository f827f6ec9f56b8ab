"""The access-control matrix over real HTTP with real tokens.

For every role × every tool: is it listed, is it callable, and what does the refusal say.
Tokens: static (salted-hash config entries), JWT HS256 and RS256; plus the ways a token
can be wrong (missing, unknown, expired, wrong audience, wrong issuer, wrong key).
"""

from __future__ import annotations

import json
import time

import httpx
import jwt
import mcp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ogmux.server.auth import hash_token, new_token
from ogmux.server.registry import discover_tools
from tests.integration.procs import authed, free_port, http_server

ALL_TOOLS = sorted(s.name for s in discover_tools())
ROLES = {
    "admin": {"tools": ["*"], "scopes": ["*"]},
    "reader": {"tools": ["server_info", "search_index", "resolve_context"], "scopes": ["public"]},
    "operator": {"tools": ["server_info", "list_models", "route_model", "solve_milp"], "scopes": ["public", "ops"]},
    "nobody": {"tools": [], "scopes": []},
}
ISSUER = "https://issuer.test"
SECRET = "matrix-test-hs256-secret-that-is-long-enough"


def _allowed(role: str, tool: str) -> bool:
    tools = ROLES[role]["tools"]
    return "*" in tools or tool in tools


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("matrix")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = tmp / "jwt.pub.pem"
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    static = {role: new_token() for role in ROLES}
    lines = ['[server]\nlog_level = "ERROR"\n', '[audit]\nsink = "off"\n', "[rate_limit]\nrate = 1000\nburst = 1000\n"]
    for role, grants in ROLES.items():
        lines.append(f"[roles.{role}]\ntools = {grants['tools']!r}\nscopes = {grants['scopes']!r}\n".replace("'", '"'))
    for role, tok in static.items():
        lines.append(f'[[tokens]]\nprincipal = "{role}-user"\nrole = "{role}"\nhash = "{hash_token(tok)}"\n')
    lines.append(
        f'[jwt]\nenabled = true\nissuer = "{ISSUER}"\nalgorithms = ["HS256", "RS256"]\n'
        f'secret_env = "OGMUX_TEST_JWT_SECRET"\npublic_key_file = "{pub}"\n'
    )
    cfg = tmp / "ogmux.toml"
    cfg.write_text("\n".join(lines))
    config_text = cfg.read_text()
    with http_server(cfg, env={"OGMUX_TEST_JWT_SECRET": SECRET}) as url:
        yield {"url": url, "static": static, "rsa": key, "config_text": config_text}


def _jwt(env, role: str, *, alg: str = "RS256", aud: str | None = None, iss: str = ISSUER, exp: float | None = None, key=None) -> str:
    claims = {"sub": f"{role}-jwt", "iss": iss, "aud": aud or env["url"], "exp": int(exp or time.time() + 300), "ogmux_role": role}
    signing = key if key is not None else (SECRET if alg == "HS256" else env["rsa"])
    return jwt.encode(claims, signing, algorithm=alg)


async def _matrix_row(url: str, token: str, role: str) -> None:
    async with mcp.Client(authed(url, token)) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        for tool in ALL_TOOLS:
            allowed = _allowed(role, tool)
            assert (tool in listed) == allowed, f"{role}/{tool}: listed={tool in listed}"
            result = await client.call_tool(tool, {})
            text = result.content[0].text if result.content else ""
            if allowed:
                assert "permission denied" not in text, f"{role}/{tool}: {text}"
            else:
                assert result.is_error
                assert f"role {role!r} is not granted tool {tool!r}" in text
                assert "403" in text


@pytest.mark.parametrize("role", sorted(ROLES))
async def test_matrix_static_tokens(env, role: str) -> None:
    await _matrix_row(env["url"], env["static"][role], role)


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("alg", ["HS256", "RS256"])
async def test_matrix_jwt(env, role: str, alg: str) -> None:
    await _matrix_row(env["url"], _jwt(env, role, alg=alg), role)


async def test_server_info_reports_the_callers_grants(env) -> None:
    async with mcp.Client(authed(env["url"], env["static"]["reader"])) as client:
        info = (await client.call_tool("server_info", {})).structured_content
    assert info["principal"] == "reader-user" and info["role"] == "reader"
    assert info["document_scopes"] == ["public"]
    assert set(info["granted_tools"]) == {t for t in ALL_TOOLS if _allowed("reader", t)}


def _bad_tokens(env) -> dict[str, str | None]:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "missing": None,
        "unknown static": new_token(),
        "garbage": "not-a-token",
        "expired": _jwt(env, "admin", exp=time.time() - 60),
        "wrong audience": _jwt(env, "admin", aud="http://elsewhere.test/mcp"),
        "wrong issuer": _jwt(env, "admin", iss="https://other-issuer.test"),
        "wrong key": _jwt(env, "admin", key=other),
        "wrong hs secret": _jwt(env, "admin", alg="HS256", key="x" * 40),
        "unknown role": _jwt(env, "superuser"),
        **_forged_tokens(env),
    }


def _forged_tokens(env) -> dict[str, str]:
    """Tokens a caller can mint without the key: unsigned, HS256 keyed with the RSA public key, not yet
    valid, a role claim that is not a string, a signature moved onto other claims."""
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    claims = {"sub": "eve", "iss": ISSUER, "aud": env["url"], "exp": int(time.time() + 300), "ogmux_role": "admin"}
    pem = env["rsa"].public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{b64(json.dumps(claims).encode())}"
    confused = signing_input + "." + b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())
    genuine = _jwt(env, "reader").split(".")
    return {
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "hs256 with the rsa public key": confused,
        "not yet valid": jwt.encode({**claims, "nbf": int(time.time() + 300)}, env["rsa"], algorithm="RS256"),
        "role claim a list": jwt.encode({**claims, "ogmux_role": ["admin"]}, env["rsa"], algorithm="RS256"),
        "signature moved": f"{genuine[0]}.{b64(json.dumps(claims).encode())}.{genuine[2]}",
    }


def test_bad_tokens_get_401_with_www_authenticate(env) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    for label, token in _bad_tokens(env).items():
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        r = httpx.post(env["url"], json=body, headers=headers)
        assert r.status_code == 401, label
        challenge = r.headers.get("www-authenticate", "")
        assert challenge.lower().startswith("bearer"), label
        # RFC 6750: no error code without a token; one undifferentiated invalid_token for every bad one.
        assert ('error="invalid_token"' in challenge) == (token is not None), label
        if token is not None:
            assert r.json() == {"error": "invalid_token", "error_description": "the bearer token is invalid or expired"}, label


def test_protected_resource_metadata_names_the_jwt_issuer(env) -> None:
    base = env["url"].removesuffix("/mcp")
    meta = httpx.get(f"{base}/.well-known/oauth-protected-resource/mcp").json()
    assert meta["resource"] == env["url"] and meta["authorization_servers"] == [ISSUER]
    challenge = httpx.post(env["url"], json={}).headers["www-authenticate"]
    assert challenge == f'Bearer resource_metadata="{base}/.well-known/oauth-protected-resource/mcp"'


def test_static_tokens_are_stored_only_as_hashes(env) -> None:
    for token in env["static"].values():
        assert token not in env["config_text"]


def test_non_loopback_http_without_auth_is_refused() -> None:
    from ogmux.server.app import build_server
    from ogmux.server.settings import load_settings

    with pytest.raises(ValueError, match="without authentication"):
        build_server(load_settings(None, **{"server.host": "0.0.0.0", "server.port": free_port()}), transport="http")


async def test_the_sdk_client_shows_a_refused_token_as_docs_http_md_says(env) -> None:
    # docs/http.md tells the reader what a refused token looks like from the SDK client, and how to see the 401.
    from mcp.shared.exceptions import MCPError

    told = pytest.RaisesExc(MCPError, match="^Server returned an error response$")
    with pytest.RaisesGroup(told, flatten_subgroups=True):
        async with mcp.Client(authed(env["url"], "ogm_" + "x" * 43)):
            pass
