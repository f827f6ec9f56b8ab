"""Bearer-token verification for HTTP: static tokens (salted hashes) and JWT access tokens.

Both paths end in an `AccessToken` whose `client_id` is the principal id and whose
`claims["ogmux_role"]` is the role; `server.app` turns that into a Principal.
`secure_http_app` puts ogmux's 401 challenge (RFC 6750) and protected-resource metadata
(RFC 9728) on the SDK's streamable HTTP app.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.routes import build_resource_metadata_url, cors_middleware
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ogmux.server.settings import JwtSettings, Settings, StaticToken

if TYPE_CHECKING:  # PyJWT (and its cryptography backend) is imported when [jwt] is enabled
    import jwt

__all__ = [
    "ROLE_CLAIM", "BearerChallenge", "OgmuxTokenVerifier", "hash_token", "new_token",
    "protected_resource_metadata", "secure_http_app",
]

ROLE_CLAIM = "ogmux_role"
TOKEN_PREFIX = "ogm_"


def hash_token(token: str, salt: str | None = None) -> str:
    """The stored form of a static token: `sha256$<salt>$<hex>` (tokens are random, so one salted hash suffices)."""
    salt = salt or secrets.token_hex(16)
    digest = hashlib.sha256(f"{salt}:{token}".encode()).hexdigest()
    return f"sha256${salt}${digest}"


def new_token() -> str:
    """A fresh random bearer token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _matches(token: str, stored: str) -> bool:
    _, salt, _ = stored.split("$")
    return hmac.compare_digest(hash_token(token, salt), stored)


def _load_jwt_keys(cfg: JwtSettings, env: Mapping[str, str]) -> tuple[str | None, str | None, jwt.PyJWKSet | None]:
    """Return (HMAC secret, public key PEM, JWKS set); raise ValueError naming what is missing."""
    import jwt

    secret = None
    if any(a.startswith("HS") for a in cfg.algorithms):
        secret = env.get(cfg.secret_env, "")
        if not secret:
            raise ValueError(f"jwt.secret_env names {cfg.secret_env!r}, but that environment variable is empty or unset")
    public = None
    if cfg.public_key_file is not None:
        public = _key_text("public_key_file", cfg.public_key_file)
        _check_public_key(cfg, public)
    jwks = None
    if cfg.jwks_file is not None:
        text = _key_text("jwks_file", cfg.jwks_file)
        try:
            jwks = jwt.PyJWKSet.from_dict(json.loads(text))
        except (ValueError, AttributeError, jwt.PyJWTError) as exc:  # JSON, shape, or keys PyJWT cannot use
            raise ValueError(
                f"jwt.jwks_file {cfg.jwks_file} is not a JWK set ({exc}): save the issuer's JWKS document, "
                'a JSON object {"keys": [...]}'
            ) from None
    return secret, public, jwks


def _key_text(key: str, path: Path) -> str:
    """The text of the key file `jwt.<key>`; ValueError naming the file when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        reason = "not UTF-8 text; a binary DER key must be converted to PEM"
    except OSError as exc:
        reason = exc.strerror or str(exc)
    raise ValueError(f"jwt.{key} {path} cannot be read ({reason}): point it at the issuer's key file")


def _check_public_key(cfg: JwtSettings, text: str) -> None:
    """ValueError unless `text` is a public key one of the configured RS*/ES* algorithms can verify with."""
    import jwt

    where = f"jwt.public_key_file {cfg.public_key_file}"
    asymmetric = [a for a in cfg.algorithms if not a.startswith("HS")]
    if not asymmetric:
        return
    for name in asymmetric:
        try:  # PyJWT and cryptography raise several types for a key they cannot use
            key = jwt.get_algorithm_by_name(name).prepare_key(text)
        except Exception:  # noqa: BLE001, S112
            continue
        if hasattr(key, "public_key"):  # a private key: it must not sit on the server, and cannot verify
            raise ValueError(f"{where} holds a private key: give the issuer's public key (BEGIN PUBLIC KEY)")
        return
    raise ValueError(
        f"{where} holds no public key for {', '.join(asymmetric)}: save the issuer's PEM public key "
        "(-----BEGIN PUBLIC KEY-----), or set jwt.algorithms to the key's type"
    )


class OgmuxTokenVerifier:
    """The SDK's `TokenVerifier`: static tokens first, then JWTs (issuer, audience, expiry)."""

    def __init__(self, settings: Settings, env: Mapping[str, str] | None = None):
        self._tokens: list[StaticToken] = list(settings.tokens)
        self._jwt = settings.jwt
        self._audience = settings.jwt.audience or settings.server.resource_url()
        self._roles = set(settings.roles)
        self._secret: str | None = None
        self._public: str | None = None
        self._jwks: jwt.PyJWKSet | None = None
        if self._jwt.enabled:
            self._secret, self._public, self._jwks = _load_jwt_keys(self._jwt, os.environ if env is None else env)

    async def verify_token(self, token: str) -> AccessToken | None:
        if token.startswith(TOKEN_PREFIX):
            return self._verify_static(token)
        if self._jwt.enabled:
            return self._verify_jwt(token)
        return None

    def _verify_static(self, token: str) -> AccessToken | None:
        for entry in self._tokens:
            if _matches(token, entry.hash):
                return AccessToken(
                    token=token, client_id=entry.principal, scopes=[], resource=self._audience,
                    claims={ROLE_CLAIM: entry.role},
                )
        return None

    def _key_for(self, header: dict[str, Any]) -> Any:
        # The key follows the algorithm, so a public key can never be used as an HMAC secret.
        alg = header.get("alg", "")
        if alg not in self._jwt.algorithms:
            return None
        if alg.startswith("HS"):
            return self._secret
        if self._jwks is not None:
            kid = header.get("kid")
            for k in self._jwks.keys:
                if kid is None or k.key_id == kid:
                    return k.key
        return self._public

    def _verify_jwt(self, token: str) -> AccessToken | None:
        import jwt

        cfg = self._jwt
        try:
            header = jwt.get_unverified_header(token)
            key = self._key_for(header)
            if key is None:
                return None
            claims = jwt.decode(
                token, key, algorithms=[header["alg"]], audience=self._audience, issuer=cfg.issuer,
                leeway=cfg.leeway_s, options={"require": ["exp", "iss", "aud", cfg.principal_claim]},
            )
        except (jwt.PyJWTError, ValueError):
            return None
        role = claims.get(cfg.role_claim)
        if not isinstance(role, str) or role not in self._roles:
            return None
        scope = claims.get("scope", "")
        return AccessToken(
            token=token, client_id=str(claims[cfg.principal_claim]), scopes=scope.split() if isinstance(scope, str) else [],
            expires_at=int(claims["exp"]), resource=self._audience, subject=str(claims.get("sub", "")),
            claims={ROLE_CLAIM: role, "iss": claims.get("iss")},
        )


NO_TOKEN = "no bearer token: send the header 'Authorization: Bearer <token>'"
BAD_TOKEN = "the bearer token is invalid or expired"


def protected_resource_metadata(settings: Settings) -> dict[str, Any]:
    """RFC 9728 metadata for the MCP endpoint.

    `authorization_servers` names the JWT issuer; static tokens come from no authorization
    server, so with only static tokens the (optional) field is left out rather than pointing
    clients at an OAuth server that does not exist.
    """
    meta: dict[str, Any] = {
        "resource": settings.server.resource_url(),
        "bearer_methods_supported": ["header"],
        "resource_name": settings.server.name,
    }
    if settings.jwt.enabled:
        meta["authorization_servers"] = [settings.jwt.issuer]
    return meta


class BearerChallenge:
    """ASGI wrapper that lets only verified tokens through; otherwise a 401 per RFC 6750 §3.

    Without a bearer token the challenge carries no error code (§3.1); with one that does
    not verify it says `invalid_token` and nothing about why, so a caller learns neither
    which check failed nor whether a token exists.
    """

    def __init__(self, app: ASGIApp, metadata_url: str):
        self.app = app
        self.metadata_url = metadata_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if isinstance(scope.get("user"), AuthenticatedUser):
            await self.app(scope, receive, send)
            return
        auth = Request(scope).headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            challenge = f'Bearer error="invalid_token", error_description="{BAD_TOKEN}", '
            body = {"error": "invalid_token", "error_description": BAD_TOKEN}
        else:
            challenge, body = "Bearer ", {"error_description": NO_TOKEN}
        headers = {"WWW-Authenticate": f'{challenge}resource_metadata="{self.metadata_url}"'}
        await JSONResponse(body, status_code=401, headers=headers)(scope, receive, send)


def secure_http_app(app: Starlette, settings: Settings, path: str) -> Starlette:
    """Swap the SDK's auth wrapper on the MCP route at `path` for `BearerChallenge`; add the metadata route."""
    metadata_url = str(build_resource_metadata_url(AnyHttpUrl(settings.server.resource_url())))
    routes = app.router.routes
    for i, route in enumerate(routes):
        if isinstance(route, Route) and route.path == path and isinstance(route.endpoint, RequireAuthMiddleware):
            routes[i] = Route(path, endpoint=BearerChallenge(route.endpoint.app, metadata_url))
    meta = protected_resource_metadata(settings)

    async def metadata(_: Request) -> JSONResponse:
        return JSONResponse(meta, headers={"Cache-Control": "public, max-age=3600"})

    well_known = AnyHttpUrl(metadata_url).path or "/"
    routes.append(Route(well_known, endpoint=cors_middleware(metadata, ["GET", "OPTIONS"]), methods=["GET", "OPTIONS"]))
    return app
