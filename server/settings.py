"""The one typed settings object: `ogmux.toml` plus `OGMUX_*` environment overrides."""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ogmux.evaluators.radsafe.config import EvalConfig
from ogmux.router.config import RouterConfig
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.solver.config import SolverConfig

__all__ = [
    "AuditSettings",
    "ConfigError",
    "JwtSettings",
    "LimitsSettings",
    "RateLimit",
    "RoleSettings",
    "ServerSettings",
    "Settings",
    "StateSettings",
    "StaticToken",
    "load_settings",
]

class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RateLimit(_Section):
    """Token bucket: `rate` calls per second refilled, up to `burst` at once."""

    rate: float = Field(20.0, gt=0, description="calls per second refilled into the bucket")
    burst: int = Field(40, ge=1, description="largest number of calls allowed at once")


class RoleSettings(_Section):
    """What a role may do: the tools it may call and the document scopes it may see."""

    tools: list[str] = Field(default_factory=lambda: ["*"], description='tool names, or "*" for all')
    scopes: list[str] = Field(default_factory=lambda: ["*"], description='document scopes, or "*" for all')
    rate_limit: RateLimit | None = Field(None, description="overrides [rate_limit] for this role")
    description: str = ""


class StaticToken(_Section):
    """A bearer token known by its salted hash (`ogmux token new` prints one)."""

    principal: str = Field(min_length=1)
    role: str = Field(min_length=1)
    hash: str = Field(pattern=r"^sha256\$[0-9a-f]{32}\$[0-9a-f]{64}$")


class JwtSettings(_Section):
    """OAuth resource-server verification of JWT access tokens."""

    enabled: bool = False
    issuer: str = ""
    audience: str = Field("", description="expected `aud` (RFC 8707 resource); empty = server.public_url")
    algorithms: list[Literal["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384"]] = Field(
        default_factory=lambda: ["RS256", "ES256"]
    )
    secret_env: str = Field("", description="environment variable holding the HS* shared secret")
    public_key_file: Path | None = None
    jwks_file: Path | None = None
    role_claim: str = "ogmux_role"
    principal_claim: str = "sub"
    leeway_s: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _key_source(self) -> JwtSettings:
        if not self.enabled:
            return self
        if not self.issuer:
            raise ValueError("jwt.issuer is required when jwt.enabled = true")
        has_hs = any(a.startswith("HS") for a in self.algorithms)
        has_pk = any(not a.startswith("HS") for a in self.algorithms)
        if has_hs and not self.secret_env:
            raise ValueError("HS* algorithms need jwt.secret_env (the name of the variable holding the secret)")
        if has_pk and not (self.public_key_file or self.jwks_file):
            raise ValueError("RS*/ES* algorithms need jwt.public_key_file or jwt.jwks_file")
        return self


class AuditSettings(_Section):
    """Where the one-JSON-line-per-tool-call audit log goes."""

    sink: Literal["stderr", "file", "off"] = "stderr"
    path: Path = Path("ogmux-audit.jsonl")
    max_bytes: int = Field(10_000_000, ge=1024)
    backups: int = Field(5, ge=0)
    retain_minutes: float = Field(
        60.0, ge=0, description="rotation moves aside (never deletes) a file holding records younger than this"
    )
    key_file: Path | None = Field(
        None,
        description="secret of the argument HMAC, created (mode 0600) if absent; unset = ogmux-audit.key next "
        "to the audit file (sink = file), else $XDG_STATE_HOME/ogmux/audit.key",
    )
    key_env: str = Field("", description="environment variable holding the secret instead (replicas share it)")


class LimitsSettings(_Section):
    """Heavy work (solves) runs in its own bounded pool, so it cannot starve document calls."""

    heavy_tools: list[str] = Field(
        default_factory=lambda: ["solve_milp", "optimize_surrogate", "analyze_network"],
        description="tools that run in the heavy-work pool",
    )
    heavy_workers: int = Field(0, ge=0, le=256, description="heavy calls running at once; 0 = number of CPUs")
    heavy_per_principal: int = Field(
        2, ge=1, description="heavy calls one principal may have running or queued; more are refused"
    )
    heavy_queue: int = Field(64, ge=0, description="heavy calls waiting for a worker (all principals); more are refused")
    calls_per_principal: int = Field(
        16,
        ge=1,
        description="other tool calls, resource reads and completions one principal may have running at once (on all "
        "replicas with [state].url); more are refused",
    )


class ServerSettings(_Section):
    """Transport and identity of the server."""

    name: str = "ogmux"
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=0, le=65535)
    path: str = "/mcp"
    public_url: str = Field("", description="URL clients use (token audience); empty = http://host:port/path")
    allowed_hosts: list[str] = Field(
        default_factory=list, description='Host header allowlist; empty = loopback names with any port'
    )
    stdio_principal: str = "local"
    stdio_role: str = "admin"
    anonymous_role: str = Field(
        "", description="role of HTTP requests without a token when no auth is configured (loopback only)"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    tools: Literal["all", "docs", "models", "safety", "solver"] = Field(
        "all", description="tool profile served: all, or only docs / models / safety / solver tools (+ server_info)"
    )
    json_response: bool = Field(
        False,
        description="HTTP: answer each request with one JSON body instead of an SSE stream; slightly "
        "less work per call, but the transport then drops in-request notifications such as progress",
    )

    def bind_url(self) -> str:
        """The MCP endpoint at the bind address: http://host:port/path (an IPv6 host in brackets)."""
        host = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"

    def resource_url(self) -> str:
        return self.public_url or self.bind_url()

    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


class StateSettings(_Section):
    """Where replicas share state (rate-limit buckets, call slots, backend breakers, role budgets and spend);
    empty url = in this process."""

    url: str = Field(
        "",
        max_length=2000,
        pattern=r"^$|^(redis|rediss|unix)://",
        description="redis://host:port/db (rediss:// for TLS); empty = state in this process only",
    )
    fail: Literal["open", "closed"] = Field(
        "open",
        description="Redis unreachable: open = serve with this replica's local state; "
        "closed = refuse rate-limited calls until it returns",
    )
    timeout_ms: int = Field(100, ge=10, le=2000, description="connect and read timeout of one Redis call")
    retry_s: float = Field(1.0, gt=0, le=60, description="during an outage, seconds between background pings of Redis")
    key_prefix: str = Field("ogmux:", max_length=64, description="prefix of every key ogmux writes")


def _default_roles() -> dict[str, RoleSettings]:
    return {"admin": RoleSettings(description="everything: every tool, every document scope")}


class Settings(BaseSettings):
    """Everything ogmux reads at startup."""

    model_config = SettingsConfigDict(env_prefix="OGMUX_", env_nested_delimiter="__", extra="forbid")

    server: ServerSettings = Field(default_factory=ServerSettings)
    roles: dict[str, RoleSettings] = Field(default_factory=_default_roles)
    tokens: list[StaticToken] = Field(default_factory=list)
    jwt: JwtSettings = Field(default_factory=JwtSettings)
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    state: StateSettings = Field(default_factory=StateSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    router: RouterConfig = Field(default_factory=RouterConfig)
    objectgraph: ObjectGraphConfig = Field(default_factory=ObjectGraphConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    solver: SolverConfig = Field(default_factory=SolverConfig)

    @field_validator("roles")
    @classmethod
    def _roles_nonempty(cls, roles: dict[str, RoleSettings]) -> dict[str, RoleSettings]:
        if not roles:
            raise ValueError("at least one role is required")
        return roles

    @model_validator(mode="after")
    def _references(self) -> Settings:
        known = set(self.roles)
        for i, tok in enumerate(self.tokens):
            if tok.role not in known:
                raise ValueError(f"tokens[{i}].role {tok.role!r} is not a defined role (defined: {sorted(known)})")
        for key, role in (("server.stdio_role", self.server.stdio_role), ("server.anonymous_role", self.server.anonymous_role)):
            if role and role not in known:
                raise ValueError(f"{key} {role!r} is not a defined role (defined: {sorted(known)})")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment wins over the file, which arrives as init kwargs.
        return (env_settings, init_settings)

    def auth_enabled(self) -> bool:
        return bool(self.tokens) or self.jwt.enabled


class ConfigError(ValueError):
    """An invalid settings file, with the file, the key and the reason."""

    def __init__(self, path: Path | None, problems: list[tuple[str, str]]):
        self.path = path
        self.problems = problems
        where = str(path) if path else "environment/defaults"
        if len(problems) == 1:
            key, reason = problems[0]
            text = f"{where}: {reason}" if key == "(file)" else f"invalid configuration in {where}: {key}: {reason}"
        else:
            text = "\n".join([f"invalid configuration in {where}:", *(f"  {k}: {r}" for k, r in problems)])
        super().__init__(text)


def _model_in(annotation: Any) -> Any:
    """`annotation` with Optional/Union unwrapped to its model, dict or list member."""
    while get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        annotation = next((a for a in args if get_origin(a) in (dict, list) or _is_model(a)), args[0])
    return annotation


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys accepted where the last part of `loc` stands (empty when not a settings section)."""
    tp: Any = Settings
    for part in loc:
        tp = _model_in(tp)
        if _is_model(tp):
            field = tp.model_fields.get(str(part))
            if field is None:
                return []
            tp = field.annotation
        elif get_origin(tp) in (dict, list):
            tp = get_args(tp)[-1]
        else:
            return []
    tp = _model_in(tp)
    return list(tp.model_fields) if _is_model(tp) else []


def _unknown_key(loc: tuple[Any, ...]) -> str:
    known = _known_keys(loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(known)})" if known else ""
    return f"unknown key{hint}; `ogmux config example` prints every key, documented"


def _env_name(loc: tuple[Any, ...]) -> str | None:
    """The OGMUX_* variable that set the value at `loc`, if one is set."""
    name = "OGMUX_" + "__".join(str(p) for p in loc).upper()
    return next((k for k in os.environ if k.upper() == name), None)


def _given(value: Any) -> str:
    """", got 'abc'" for a scalar that failed validation (cut to 60 characters); nothing for a table or list."""
    if isinstance(value, dict | list | tuple) or value is None:
        return ""
    if isinstance(value, str) and "@" in value:  # a URL's password is not repeated
        value = re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", value)
    text = repr(value)
    return f", got {text if len(text) <= 60 else text[:59] + '…'}"


def _validation_problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        env = _env_name(loc) if loc else None
        if env:
            key = f"{key} (from {env})"
        if err["type"] == "extra_forbidden":
            msg = _unknown_key(loc)
        else:
            msg = err["msg"].removeprefix("Value error, ") + _given(err.get("input"))
        out.append((key, msg))
    return out


def _unknown_env_sections() -> list[tuple[str, str]]:
    """OGMUX_<SECTION>__<KEY> variables naming no settings section (they would be silently ignored)."""
    out = []
    for name in sorted(os.environ):
        if not name.upper().startswith("OGMUX_") or "__" not in name:
            continue
        section = name[len("OGMUX_"):].split("__", 1)[0].lower()
        if section not in Settings.model_fields:
            close = difflib.get_close_matches(section, Settings.model_fields, n=1)
            hint = f"did you mean OGMUX_{close[0].upper()}__...?" if close else f"sections: {', '.join(Settings.model_fields)}"
            out.append((name, f"no settings section {section!r}; {hint}"))
    return out


def _resolve_value(annotation: Any, value: Any, base: Path) -> Any:
    args = get_args(annotation)
    if isinstance(value, str):
        is_path = annotation is Path or Path in args
        if is_path and value and not value.startswith("~") and not Path(value).is_absolute():
            return str(base / value)
        return value
    if isinstance(value, list) and get_origin(annotation) is list:
        return [_resolve_value(args[0], v, base) for v in value]
    if isinstance(value, dict):
        if get_origin(annotation) is dict:
            return {k: _resolve_value(args[1], v, base) for k, v in value.items()}
        model = next((a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is not None:
            return _resolve_paths(model, value, base)
    return value


def _resolve_paths(model: type[BaseModel], data: dict[str, Any], base: Path) -> dict[str, Any]:
    """`data` (a file's section for `model`) with every relative path made absolute against `base`."""
    return {
        key: _resolve_value(model.model_fields[key].annotation, value, base) if key in model.model_fields else value
        for key, value in data.items()
    }


# A bearer token as `ogmux token new` prints it (on stderr, so that `>> FILE` appends only its hash).
_TOKEN = re.compile(r"\bogm_[A-Za-z0-9_-]{20,}")


def _pasted_token_hint(text: str) -> str:
    """For a file that is not TOML: the line holding a bearer token, when one was pasted or redirected into it."""
    for number, line in enumerate(text.splitlines(), 1):
        if _TOKEN.search(line) and not line.lstrip().startswith("#"):
            return (
                f"; line {number} holds a bearer token: delete that line (the file keeps only the token's hash) "
                "and give the token to its client"
            )
    return ""


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read `path` (TOML), apply `OGMUX_*` environment overrides and `overrides`; raise ConfigError.

    Relative paths in the file resolve against the file's directory, so a config works from any
    working directory (as when Claude Desktop starts the server from `/`).
    """
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path).expanduser().absolute()
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
            data = tomllib.loads(text)
        except FileNotFoundError:
            reason = (
                "settings file not found (check the path; `ogmux config example > FILE` writes a documented one)"
            )
            raise ConfigError(path, [("(file)", reason)]) from None
        except IsADirectoryError:
            raise ConfigError(path, [("(file)", "is a directory, not a TOML file")]) from None
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            reason = f"not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}): save the file as UTF-8"
            raise ConfigError(path, [("(file)", reason)]) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(path, [("(file)", f"not valid TOML: {exc}{_pasted_token_hint(text)}")]) from None
        data = _resolve_paths(Settings, data, path.parent)
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    if unknown := _unknown_env_sections():
        raise ConfigError(None, unknown)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(path, _validation_problems(exc)) from None
