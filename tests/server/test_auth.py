"""Token verification in-process: static hashes, HS256, RS256, ES256 from a JWKS file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ogmux.server.auth import OgmuxTokenVerifier, hash_token, new_token
from ogmux.server.settings import load_settings

AUD = "http://127.0.0.1:8765/mcp"
ISS = "https://idp.test"


def _settings(**jwt_cfg):
    return load_settings(None, **{"roles": {"admin": {}, "reader": {"tools": ["server_info"]}},
                                  **{f"jwt.{k}": v for k, v in jwt_cfg.items()}})


async def test_static_token_round_trip_and_hash_format() -> None:
    tok = new_token()
    stored = hash_token(tok)
    assert stored.startswith("sha256$") and tok not in stored
    assert hash_token(tok) != stored  # fresh salt each time
    s = load_settings(None, tokens=[{"principal": "alice", "role": "admin", "hash": stored}])
    v = OgmuxTokenVerifier(s)
    ok = await v.verify_token(tok)
    assert ok is not None and ok.client_id == "alice" and ok.claims["ogmux_role"] == "admin"
    assert await v.verify_token(new_token()) is None


async def test_hs256(tmp_path: Path) -> None:
    v = OgmuxTokenVerifier(_settings(enabled=True, issuer=ISS, algorithms=["HS256"], secret_env="S"), env={"S": "k" * 40})
    good = jwt.encode({"sub": "bob", "iss": ISS, "aud": AUD, "exp": time.time() + 60, "ogmux_role": "reader"}, "k" * 40, "HS256")
    tok = await v.verify_token(good)
    assert tok.client_id == "bob" and tok.claims["ogmux_role"] == "reader"
    bad = jwt.encode({"sub": "bob", "iss": ISS, "aud": AUD, "exp": time.time() + 60, "ogmux_role": "reader"}, "z" * 40, "HS256")
    assert await v.verify_token(bad) is None


def test_hs256_without_secret_is_a_clear_startup_error() -> None:
    with pytest.raises(ValueError, match="environment variable is empty or unset"):
        OgmuxTokenVerifier(_settings(enabled=True, issuer=ISS, algorithms=["HS256"], secret_env="NOPE"), env={})


async def test_es256_from_jwks_file_selects_key_by_kid(tmp_path: Path) -> None:
    keys = {kid: ec.generate_private_key(ec.SECP256R1()) for kid in ("k1", "k2")}
    jwks = {"keys": []}
    for kid, key in keys.items():
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        jwks["keys"].append({**jwk, "kid": kid, "alg": "ES256", "use": "sig"})
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    v = OgmuxTokenVerifier(_settings(enabled=True, issuer=ISS, algorithms=["ES256"], jwks_file=str(path)))
    claims = {"sub": "carol", "iss": ISS, "aud": AUD, "exp": time.time() + 60, "ogmux_role": "admin"}
    for kid, key in keys.items():
        tok = jwt.encode(claims, key, "ES256", headers={"kid": kid})
        assert (await v.verify_token(tok)).client_id == "carol"
    swapped = jwt.encode(claims, keys["k1"], "ES256", headers={"kid": "k2"})
    assert await v.verify_token(swapped) is None


async def test_algorithm_confusion_is_refused(tmp_path: Path) -> None:
    """A token signed HS256 with the RSA public key as secret must not pass an RS256 setup."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    path = tmp_path / "pub.pem"
    path.write_bytes(pem)
    v = OgmuxTokenVerifier(_settings(enabled=True, issuer=ISS, algorithms=["RS256"], public_key_file=str(path)))
    claims = {"sub": "eve", "iss": ISS, "aud": AUD, "exp": time.time() + 60, "ogmux_role": "admin"}
    forged = jwt.api_jws.PyJWS().encode(json.dumps(claims).encode(), b"x" * 32, algorithm="HS256")
    assert await v.verify_token(forged) is None
    assert (await v.verify_token(jwt.encode(claims, key, "RS256"))).client_id == "eve"


async def test_missing_required_claims_are_refused(tmp_path: Path) -> None:
    v = OgmuxTokenVerifier(_settings(enabled=True, issuer=ISS, algorithms=["HS256"], secret_env="S"), env={"S": "k" * 40})
    no_exp = jwt.encode({"sub": "bob", "iss": ISS, "aud": AUD, "ogmux_role": "reader"}, "k" * 40, "HS256")
    no_role = jwt.encode({"sub": "bob", "iss": ISS, "aud": AUD, "exp": time.time() + 60}, "k" * 40, "HS256")
    assert await v.verify_token(no_exp) is None
    assert await v.verify_token(no_role) is None


def _http_app(settings):
    from ogmux.server.app import build_server

    return build_server(settings, transport="http").streamable_http_app(streamable_http_path="/mcp", stateless_http=True)


async def _post(app, token: str | None, scheme: str = "Bearer") -> httpx.Response:
    headers = {"Accept": "application/json, text/event-stream"}
    if token is not None:
        headers["Authorization"] = f"{scheme} {token}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8765") as c:
        return await c.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers=headers)


async def test_missing_and_bad_tokens_get_distinct_rfc6750_challenges() -> None:
    settings = load_settings(None, tokens=[{"principal": "alice", "role": "admin", "hash": hash_token(new_token())}])
    app = _http_app(settings)
    meta = 'resource_metadata="http://127.0.0.1:8765/.well-known/oauth-protected-resource/mcp"'
    for token, scheme in ((None, "Bearer"), ("dXNlcjpwYXNz", "Basic")):
        r = await _post(app, token, scheme)
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == f"Bearer {meta}"  # no error code without a token (RFC 6750 §3.1)
        assert "no bearer token" in r.json()["error_description"]
    bad = {await _post(app, tok) for tok in (new_token(), "garbage", "")}
    challenges = {(r.status_code, r.headers["www-authenticate"], r.text) for r in bad}
    assert len(challenges) == 1  # unknown static, malformed and empty tokens answer alike
    status, challenge, body = challenges.pop()
    assert status == 401 and challenge.startswith('Bearer error="invalid_token"') and challenge.endswith(meta)
    assert json.loads(body) == {"error": "invalid_token", "error_description": "the bearer token is invalid or expired"}


async def test_protected_resource_metadata_names_the_issuer_or_no_authorization_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "/.well-known/oauth-protected-resource/mcp"
    static_only = load_settings(None, tokens=[{"principal": "alice", "role": "admin", "hash": hash_token(new_token())}])
    with_jwt = _settings(enabled=True, issuer=ISS, algorithms=["HS256"], secret_env="S")
    monkeypatch.setenv("S", "k" * 40)
    for settings, servers in ((static_only, None), (with_jwt, [ISS])):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_http_app(settings)), base_url="http://x") as c:
            meta = (await c.get(url)).json()
        assert meta["resource"] == AUD and meta["bearer_methods_supported"] == ["header"]
        assert meta.get("authorization_servers") == servers


def test_an_unusable_key_file_is_one_startup_error_naming_the_file_and_the_fix(tmp_path: Path) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    private_pem = ec_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    files = {
        "garbage.pem": b"not a key\n",
        "private.pem": private_pem,
        "binary.der": ec_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "not-json.jwks": b"{keys: []",
        "no-keys.jwks": b'{"keys": 3}',
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "dir.pem").mkdir()
    cases = {
        "garbage.pem": ("public_key_file", "holds no public key for RS256, ES256: save the issuer's PEM public key"),
        "private.pem": ("public_key_file", "holds a private key: give the issuer's public key"),
        "binary.der": ("public_key_file", "cannot be read (not UTF-8 text; a binary DER key must be converted to PEM)"),
        "dir.pem": ("public_key_file", "cannot be read (Is a directory): point it at the issuer's key file"),
        "gone.pem": ("public_key_file", "cannot be read (No such file or directory)"),
        "not-json.jwks": ("jwks_file", "is not a JWK set (Expecting property name"),
        "no-keys.jwks": ("jwks_file", 'is not a JWK set (Invalid JWK Set value): save the issuer\'s JWKS document'),
    }
    for name, (key, reason) in cases.items():
        settings = _settings(enabled=True, issuer=ISS, **{key: str(tmp_path / name)})
        with pytest.raises(ValueError) as exc:
            OgmuxTokenVerifier(settings)
        assert str(exc.value).startswith(f"jwt.{key} {tmp_path / name} {reason}"), str(exc.value)
        assert "\n" not in str(exc.value)
    # The same key as a public key serves; an RSA key under ES256 alone is named a key of another type.
    (tmp_path / "public.pem").write_bytes(
        ec_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    OgmuxTokenVerifier(_settings(enabled=True, issuer=ISS, public_key_file=str(tmp_path / "public.pem")))
    with pytest.raises(ValueError, match="holds no public key for RS256: .* or set jwt.algorithms to the key's type"):
        OgmuxTokenVerifier(
            _settings(enabled=True, issuer=ISS, algorithms=["RS256"], public_key_file=str(tmp_path / "public.pem"))
        )
