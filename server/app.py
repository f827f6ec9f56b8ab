"""The composition root: an MCPServer whose tools, resources and access checks come from ogmux.

Access control lives here and only here: `OgmuxServer.current_principal` says who is
calling, `list_tools` shows a role only its tools. Every tool call, resource read, prompt and
completion passes one gate: the principal's rate limit first (whatever the tool name or URI), then
the grant, argument validation, the heavy-work pool for heavy tools (`server.workpool`), the handler, and
one bounded audit line (`server.audit`), cancelled calls included. Document scopes travel on
the principal into `tools.objectgraph`, which filters inside its query layer.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
import anyio.to_thread
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    CallToolResult,
    Completion,
    GetPromptResult,
    PromptReference,
    ResourceTemplateReference,
    TextContent,
    Tool,
)
from pydantic import BaseModel, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from ogmux.server.audit import AuditLog, Outcome, bounded, printable
from ogmux.server.auth import ROLE_CLAIM, OgmuxTokenVerifier, secure_http_app
from ogmux.server.callslots import CallsBusy, CallSlots
from ogmux.server.context import AppState, ToolContext
from ogmux.server.echoes import BoundedEchoes
from ogmux.server.errors import USER_ERRORS, describe_validation_error
from ogmux.server.instructions import build_instructions
from ogmux.server.principal import Principal, principal_for
from ogmux.server.prompts import PROMPTS, PromptSpec
from ogmux.server.ratelimit import RateLimiter, RateLimitExceeded
from ogmux.server.registry import ResourceSpec, ToolSpec, discover_resources, profile_tools
from ogmux.server.schemas import mcp_tool
from ogmux.server.settings import Settings
from ogmux.server.state import shared_state
from ogmux.server.version import __version__
from ogmux.server.workpool import HeavyWorkRefused, work_pool

__all__ = ["OgmuxServer", "build_server", "transport_security"]

log = logging.getLogger("ogmux.server")
TOOLS_COMPONENT = "server.tools"  # the ToolSpecs this server offers, for server_info


@dataclass
class _Call:
    """What one gated request's audit line records of its end."""

    outcome: Outcome = "ok"
    size: int = 0


class ToolCallError(Exception):
    """A refused or failed call, with the audit outcome it stands for."""

    def __init__(self, outcome: Outcome, message: str):
        self.outcome = outcome
        super().__init__(message)


class OgmuxServer(MCPServer):
    """MCPServer with per-principal tool listing, access checks, rate limits and audit."""

    def __init__(
        self,
        settings: Settings,
        *,
        default_principal: Principal | None,
        tools: Iterable[ToolSpec] | None = None,
        resources: Iterable[ResourceSpec] | None = None,
        token_verifier: OgmuxTokenVerifier | None = None,
        in_process: bool = False,
    ):
        specs = list(profile_tools(settings.server.tools) if tools is None else tools)
        res = list(discover_resources() if resources is None else resources)
        auth = None
        if token_verifier is not None:
            # No resource_server_url: `streamable_http_app` adds ogmux's own challenge and metadata
            # (the SDK's would name an authorization server even for static tokens); issuer_url goes unread.
            auth = AuthSettings(
                issuer_url=settings.jwt.issuer or settings.server.resource_url(),
                resource_server_url=None,
                validate_token_resource=False,
            )
        # The SDK configures the root logger (a rich handler, its level) as if it owned the process;
        # ogmux is also a library: keep the process's logging as it was (`ogmux serve` sets its own).
        root_handlers, root_level = list(logging.root.handlers), logging.root.level
        super().__init__(
            settings.server.name,
            version=__version__,
            instructions=build_instructions({s.capability for s in specs}),
            token_verifier=token_verifier,
            auth=auth,
            log_level=settings.server.log_level,
            middleware=[BoundedEchoes()],
        )
        logging.root.handlers[:] = root_handlers
        logging.root.setLevel(root_level)
        self.ogmux_settings = settings
        self.state = AppState(settings)
        self.default_principal = default_principal
        # In-process clients pass a progress callback without a token, so a listener cannot be ruled out.
        self._progress_without_token = in_process
        self.specs: dict[str, ToolSpec] = {s.name: s for s in specs}
        self._definitions: dict[str, Tool] = {s.name: tool_definition(s) for s in specs}
        self.state.component(TOOLS_COMPONENT, lambda _: list(specs))
        self.resource_specs = res
        self._resource_templates = [(s.uri, _uri_matcher(s.uri)) for s in res]
        self._heavy = frozenset(settings.limits.heavy_tools)
        self._limiter = RateLimiter(shared_state(self.state))
        self._slots = CallSlots(shared_state(self.state))
        self.state.add_closer(self._slots.close)
        self.audit = AuditLog(settings.audit)
        self.state.add_closer(self.audit.close)
        for spec in res:
            self._register_resource(spec)
        for prompt in PROMPTS:
            if prompt.tools <= set(self.specs):
                self.prompt(name=prompt.name, description=prompt.description)(prompt.render)
        self.completion()(self._complete)
        self.custom_route("/healthz", methods=["GET"])(self._healthz)

    def streamable_http_app(self, **kwargs: Any) -> Starlette:
        """The SDK's streamable HTTP app; with tokens configured, ogmux's 401 challenge and RFC 9728 metadata; a 404
        that names the MCP path."""
        app = super().streamable_http_app(**kwargs)
        path = kwargs.get("streamable_http_path", "/mcp")
        if self.settings.auth is not None:
            secure_http_app(app, self.ogmux_settings, path)
        app.add_exception_handler(404, functools.partial(_not_found, path))
        return app

    async def _healthz(self, request: Request) -> JSONResponse:
        """Liveness for load balancers and container health checks (no auth, no tool runs)."""
        pool = work_pool(self.state)
        heavy = {"workers": pool.workers, "running": pool.running, "waiting": pool.waiting}
        return JSONResponse({"status": "ok", "version": __version__, "tools": len(self.specs), "heavy": heavy})

    # --- who is calling -------------------------------------------------------------
    def current_principal(self) -> Principal | None:
        """The principal of the current request: its verified token, else the transport's default."""
        token = get_access_token()
        if token is not None:
            role = (token.claims or {}).get(ROLE_CLAIM)
            if isinstance(role, str) and role in self.ogmux_settings.roles:
                return principal_for(self.ogmux_settings, token.client_id, role)
            return None
        return self.default_principal

    def visible_specs(self, principal: Principal | None) -> list[ToolSpec]:
        """The tools `principal` may call, in registration order."""
        if principal is None:
            return []
        return [s for s in self.specs.values() if principal.may_call(s.name)]

    # --- tools ----------------------------------------------------------------------
    async def list_tools(self) -> list[Tool]:
        return [self._definitions[s.name] for s in self.visible_specs(self._listing_principal())]

    def _listing_principal(self) -> Principal | None:
        """The caller of a listing, charged to its listings bucket: listings were free, and a flood of them (126 a
        second from one token) took other principals' searches from 7 to 264 ms. Clients list before their
        first call, so listings have a bucket of their own and never spend the calls'."""
        principal = self.current_principal()
        try:
            self.check_rate(principal, "listings")
        except ToolCallError as exc:
            raise _invalid_request(str(exc)) from None
        return principal

    def _tool_input_schema(self, name: str) -> dict[str, Any] | None:
        definition = self._definitions.get(name)
        return None if definition is None else definition.input_schema

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult:
        principal = self.current_principal()
        with self._audited(principal, arguments, tool=name) as call:
            try:
                result = await self.run_tool(name, arguments, principal, context)
                text = self.specs[name].render(result)
                structured = result.model_dump(mode="json")
                call.size = len(text.encode())
                return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)
            except ToolCallError as exc:
                call.outcome, text = exc.outcome, str(exc)
                call.size = len(text.encode())
                return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)

    @contextmanager
    def _audited(self, principal: Principal | None, arguments: dict[str, Any], **target: str) -> Iterator[_Call]:
        """Time one gated request and write its audit line, whatever way it ends."""
        call = _Call()
        started = time.perf_counter()
        try:
            yield call
        except anyio.get_cancelled_exc_class():
            call.outcome = "cancelled"
            raise
        except Exception:
            if call.outcome == "ok":
                call.outcome = "internal_error"
            raise
        finally:
            self.audit.record(
                principal=principal.id if principal else "anonymous",
                role=principal.role if principal else "",
                **target,
                arguments=arguments,
                outcome=call.outcome,
                result_bytes=call.size,
                latency_ms=(time.perf_counter() - started) * 1000,
            )

    @contextmanager
    def _gated(
        self,
        principal: Principal | None,
        arguments: dict[str, Any],
        refuse: Callable[[str], Exception],
        **target: str,
    ) -> Iterator[_Call]:
        """The gate of a resource read, prompt or completion: the rate limit charged first, one audit line; a
        refusal (ToolCallError) inside reaches the caller as `refuse(message)`, with its outcome audited."""
        with self._audited(principal, arguments, **target) as call:
            try:
                self.check_rate(principal)
                yield call
            except ToolCallError as exc:
                call.outcome = exc.outcome
                raise refuse(str(exc)) from None

    async def run_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        principal: Principal | None,
        context: Context[Any, Any] | None = None,
    ) -> BaseModel:
        """Check, validate and run one tool for `principal`; raise ToolCallError on any refusal or failure."""
        self.check_rate(principal)
        spec = self.specs.get(name)
        if principal is None:
            raise ToolCallError("denied", "permission denied: the request carries no recognised principal")
        if spec is None or not principal.may_call(name):
            if spec is None:
                granted = ", ".join(s.name for s in self.visible_specs(principal)) or "none"
                raise ToolCallError(
                    "invalid", f"unknown tool {bounded(name, 100)!r}; tools available to you: {granted}"
                )
            raise ToolCallError(
                "denied",
                f"permission denied (403): role {principal.role!r} is not granted tool {name!r}; "
                f"an administrator can add {name!r} to roles.{principal.role}.tools in the configuration",
            )
        try:
            args = spec.input_model.model_validate(arguments)
        except ValidationError as exc:
            raise ToolCallError("invalid", describe_validation_error(name, spec.input_model, exc)) from None
        ctx = ToolContext(
            principal=principal,
            state=self.state,
            progress=_progress_fn(context),
            wants_progress=self._progress_without_token or _has_progress_token(context),
        )
        try:
            if name in self._heavy:
                async with work_pool(self.state).admit(principal.id):
                    result = await self._run_handler(spec, args, ctx, heavy=True)
            else:
                with self._call_slot(principal, name):
                    result = await self._run_handler(spec, args, ctx, heavy=False)
        except ToolCallError:
            raise
        except HeavyWorkRefused as exc:
            raise ToolCallError("busy", f"{name}: {exc}") from None
        except USER_ERRORS as exc:
            raise ToolCallError("error", f"{name}: {_error_text(exc)}") from None
        except Exception:
            log.exception("tool %s failed", name)
            raise ToolCallError(
                "internal_error", f"{name}: internal error; the server log has the details (tool {name!r})"
            ) from None
        if not isinstance(result, spec.output_model):
            raise ToolCallError("internal_error", f"{name}: internal error (unexpected result type)")
        return result

    def check_rate(self, principal: Principal | None, bucket: str = "") -> None:
        """Take one call from the caller's rate-limit bucket (the first check of every request); `bucket` names
        a second bucket of the caller's, with the same limit, for requests that must not spend its calls."""
        key = (principal.id if principal is not None else "(unrecognised)") + (f" ({bucket})" if bucket else "")
        limit = (principal.rate_limit if principal is not None else None) or self.ogmux_settings.rate_limit
        try:
            self._limiter.acquire(key, limit)
        except RateLimitExceeded as exc:
            raise ToolCallError("rate_limited", str(exc)) from None

    @contextmanager
    def _call_slot(self, principal: Principal | None, target: str) -> Iterator[None]:
        """Hold one of the caller's `limits.calls_per_principal` slots (for all replicas with `[state].url`)
        for a call, read or completion on the shared worker threads (heavy tools have their own pool);
        refuse at once (busy) when all are taken."""
        key = principal.id if principal is not None else "(unrecognised)"
        try:
            slot = self._slots.take(key, self.ogmux_settings.limits.calls_per_principal)
        except CallsBusy as exc:
            raise ToolCallError("busy", f"{target}: {exc}") from None
        try:
            yield
        finally:
            self._slots.release(slot)

    async def _run_handler(self, spec: ToolSpec, args: BaseModel, ctx: ToolContext, *, heavy: bool) -> Any:
        if inspect.iscoroutinefunction(spec.handler):
            return await spec.handler(args, ctx)  # heavy async handlers hand their work to the pool themselves
        if heavy:
            return await work_pool(self.state).run(lambda: spec.handler(args, ctx))
        return await anyio.to_thread.run_sync(spec.handler, args, ctx)

    # --- resources ------------------------------------------------------------------
    def _may_read(self, principal: Principal | None, spec: ResourceSpec) -> bool:
        return principal is not None and any(
            principal.may_call(s.name) for s in self.specs.values() if s.capability == spec.capability
        )

    def _register_resource(self, spec: ResourceSpec) -> None:
        server = self
        defaults = inspect.signature(spec.handler).parameters  # a query parameter ({?start}) may be left out
        params = [
            inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY, annotation=str, default=defaults[p].default)
            for p in _template_params(spec.uri)
        ]

        async def read(**kwargs: str) -> str:
            principal = server.current_principal()
            if not server._may_read(principal, spec):
                raise ResourceError(f"resource not found: {spec.uri}")
            ctx = ToolContext(principal=principal, state=server.state)  # type: ignore[arg-type]
            try:
                if inspect.iscoroutinefunction(spec.handler):
                    return await spec.handler(ctx, **kwargs)
                # on a worker thread, as tools are: a large document's index or node costs CPU the event loop owes everyone
                return await anyio.to_thread.run_sync(functools.partial(spec.handler, ctx, **kwargs))
            except USER_ERRORS as exc:
                raise ResourceError(str(exc)) from None

        read.__signature__ = inspect.Signature(params, return_annotation=str)  # type: ignore[attr-defined]
        read.__annotations__ = {**{p.name: str for p in params}, "return": str}
        read.__name__ = spec.name
        self.resource(spec.uri, name=spec.name, description=spec.description, mime_type=spec.mime_type)(read)

    def _resource_label(self, uri: str) -> str:
        """The template a URI matches (its parameters are caller data, hashed in the audit), else the URI, bounded."""
        for template, matches in self._resource_templates:
            if matches(uri):
                return template
        return bounded(uri)

    async def read_resource(self, uri: Any, context: Context[Any, Any] | None = None):  # type: ignore[override]
        """Resource reads pass the same gate as tools: rate limit, scope (in `read`), one audit line."""
        principal = self.current_principal()
        label = self._resource_label(str(uri))
        with self._gated(principal, {"uri": str(uri)}, ResourceError, resource=label) as call:
            try:
                with self._call_slot(principal, label):
                    results = await super().read_resource(uri, context)
            except ResourceNotFoundError as exc:  # messages echo the URI: caller text of any length
                call.outcome = "invalid"
                raise ResourceNotFoundError(printable(str(exc), 300)) from None
            except ResourceError as exc:
                call.outcome = "error"
                raise ResourceError(printable(str(exc), 300)) from None
            if isinstance(results, list):
                call.size = sum(len(r.content.encode() if isinstance(r.content, str) else r.content) for r in results)
            return results

    # --- prompts --------------------------------------------------------------------
    @staticmethod
    def _may_use(principal: Principal | None, prompt: PromptSpec | None) -> bool:
        return prompt is not None and principal is not None and all(principal.may_call(t) for t in prompt.tools)

    async def get_prompt(  # type: ignore[override]
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Any, Any] | None = None
    ) -> GetPromptResult:
        """Prompts pass the gate too: rate limit, grant (a prompt the role may not use answers like an
        unknown one), bounded arguments with a clear error, one audit line."""
        principal = self.current_principal()
        with self._gated(principal, arguments or {}, _invalid_request, prompt=name) as call:
            prompt = next((p for p in PROMPTS if p.name == name), None)
            if not self._may_use(principal, prompt) or not self._prompt_manager.get_prompt(name):
                call.outcome = "invalid"
                raise MCPError(INVALID_PARAMS, f"unknown prompt {bounded(name, 100)!r}; prompts/list names yours")
            try:
                result = await super().get_prompt(name, arguments, context)
            except ValueError as exc:
                call.outcome = "invalid"
                raise MCPError(INVALID_PARAMS, f"prompt {name}: {_prompt_error(exc)}") from None
            call.size = len(result.model_dump_json())
            return result  # type: ignore[return-value]

    def _completer(
        self, principal: Principal | None, ref: Any, argument: str
    ) -> Callable[[ToolContext, str], list[str]] | None:
        """What completes `argument` of `ref` for `principal`; None when unknown or not the caller's (alike)."""
        if isinstance(ref, PromptReference):
            prompt = next((p for p in PROMPTS if p.name == ref.name), None)
            return prompt.complete.get(argument) if prompt and self._may_use(principal, prompt) else None
        uri = ref.uri if isinstance(ref, ResourceTemplateReference) else None
        spec = next((s for s in self.resource_specs if s.uri == uri), None)
        if spec is None or spec.complete is None or not self._may_read(principal, spec):
            return None
        complete = spec.complete
        return lambda ctx, prefix: complete(ctx, argument, prefix)

    async def _complete(self, ref: Any, argument: Any, context: Any) -> Completion | None:
        """Completions pass the gate too: rate limit, bounded arguments, one audit line, a call slot; the
        values are limited to what the caller may see (an unknown or refused reference completes nothing)."""
        principal = self.current_principal()
        given = context.arguments if context else None
        request = {"argument": argument.name, "value": argument.value, "context": given}
        target = ref.uri if isinstance(ref, ResourceTemplateReference) else str(getattr(ref, "name", ""))
        with self._gated(principal, request, _invalid_request, completion=target) as call:
            complete = self._completer(principal, ref, argument.name)
            if complete is None:
                call.outcome = "invalid"
                return None
            try:
                CompletionRequest.model_validate(request)
            except ValidationError as exc:
                call.outcome = "invalid"
                raise MCPError(INVALID_PARAMS, f"completion: {_prompt_error(exc)}") from None
            ctx = ToolContext(principal=principal, state=self.state)  # type: ignore[arg-type]
            with self._call_slot(principal, "completion"):
                values = await anyio.to_thread.run_sync(complete, ctx, argument.value)
            result = _completion(values)
            call.size = len(result.model_dump_json())
            return result

    async def list_resources(self):  # type: ignore[override]
        principal = self._listing_principal()
        allowed = {s.uri for s in self.resource_specs if self._may_read(principal, s)}
        return [r for r in await super().list_resources() if str(r.uri) in allowed]

    async def list_prompts(self):  # type: ignore[override]
        principal = self._listing_principal()
        allowed = {p.name for p in PROMPTS if self._may_use(principal, p)}
        return [p for p in await super().list_prompts() if p.name in allowed]

    async def list_resource_templates(self):  # type: ignore[override]
        principal = self._listing_principal()
        allowed = {s.uri for s in self.resource_specs if self._may_read(principal, s)}
        return [t for t in await super().list_resource_templates() if t.uri_template in allowed]


ERROR_CHARS = 1000  # of a tool's error message, which may repeat caller text (an unknown edge kind, ids)


async def _not_found(mcp_path: str, request: Request, exc: Exception) -> JSONResponse:
    """A 404 naming the MCP endpoint, as a JSON-RPC error so that MCP clients show it (a client given the
    server's address without its path)."""
    where = printable(request.url.path, 80)
    error = {"code": -32601, "message": f"nothing is served at {where}: ogmux serves MCP at {mcp_path}"}
    return JSONResponse({"jsonrpc": "2.0", "id": None, "error": error}, status_code=404)


def _error_text(exc: BaseException) -> str:
    """A domain error's message for the caller: cut to ERROR_CHARS, control and bidi characters escaped
    (its own line breaks kept)."""
    text = str(exc)
    kept = "".join(c if c == "\n" or c.isprintable() else c.encode("unicode_escape").decode() for c in text[:ERROR_CHARS])
    return kept if len(text) <= ERROR_CHARS else f"{kept}...[{len(text)} chars in all]"


def _prompt_error(exc: BaseException) -> str:
    """What was wrong with a prompt's arguments, from the innermost cause (the SDK wraps it twice)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, ValidationError):
        return "; ".join(f"argument {'.'.join(map(str, e['loc']))!r}: {e['msg']}" for e in exc.errors()[:5])
    return bounded(str(exc), 300)


def _invalid_request(message: str) -> MCPError:
    return MCPError(INVALID_REQUEST, message)


Short = Annotated[str, Field(max_length=100)]


class CompletionRequest(BaseModel):
    """The caller text of a completion: every value completed is an id or name of at most 300 characters."""

    argument: Short
    value: str = Field(max_length=300)
    context: dict[Short, Annotated[str, Field(max_length=2000)]] | None = Field(None, max_length=16)


def _completion(values: list[str]) -> Completion:
    """The first 100 values; the total only when all were found (node completions stop early)."""
    more = len(values) > 100
    return Completion(values=values[:100], total=None if more else len(values), has_more=more)


def _template_params(uri: str) -> list[str]:
    from mcp.shared.uri_template import UriTemplate

    return list(UriTemplate.parse(uri).variable_names)


def _uri_matcher(uri: str):
    from mcp.shared.uri_template import UriTemplate

    if not UriTemplate.is_template(uri):
        return lambda candidate: candidate == uri
    template = UriTemplate.parse(uri)
    return lambda candidate: template.match(candidate) is not None


def _has_progress_token(context: Context[Any, Any] | None) -> bool:
    if context is None:
        return False
    meta = context.request_context.meta
    return bool(meta) and meta.get("progress_token") is not None


def _progress_fn(context: Context[Any, Any] | None):
    async def progress(done: float, total: float | None = None, message: str | None = None) -> None:
        if context is not None:
            try:
                await context.report_progress(done, total, message)
            except Exception:  # progress is best-effort; a client without a token just ignores it
                log.debug("progress notification not sent", exc_info=True)

    return progress


def tool_definition(spec: ToolSpec) -> Tool:
    """The MCP `Tool` definition of a spec (compact JSON Schemas, see server.schemas)."""
    return mcp_tool(spec)


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """Host (and Origin) allowlist for streamable HTTP: configured hosts, else loopback names."""
    hosts = settings.server.allowed_hosts or ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    origins = [f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def build_server(
    settings: Settings,
    *,
    transport: str = "stdio",
    tools: Iterable[ToolSpec] | None = None,
    resources: Iterable[ResourceSpec] | None = None,
) -> OgmuxServer:
    """Build the ogmux MCP server for `transport` ("stdio", "http" or "memory").

    Over stdio and in memory the caller is the configured local principal. Over HTTP the
    caller is the verified bearer token's principal; without any configured auth, HTTP
    is allowed on loopback only, as `server.anonymous_role`.
    """
    if transport not in {"stdio", "http", "memory"}:
        raise ValueError(f"unknown transport {transport!r}; use 'stdio', 'http' or 'memory'")
    verifier = None
    default: Principal | None
    if transport == "http":
        if settings.auth_enabled():
            verifier = OgmuxTokenVerifier(settings)
            default = None
        else:
            if not settings.server.is_loopback():
                jwt = settings.jwt
                off = " ([jwt] is filled in but jwt.enabled = false)" if (
                    jwt.issuer or jwt.secret_env or jwt.public_key_file or jwt.jwks_file
                ) else ""
                raise ValueError(
                    f"refusing to serve HTTP on {settings.server.host!r} without authentication{off}: add "
                    "[[tokens]] (`ogmux token new`) or [jwt] with enabled = true, or bind to 127.0.0.1"
                )
            role = settings.server.anonymous_role or settings.server.stdio_role
            default = principal_for(settings, "anonymous", role)
    else:
        default = principal_for(settings, settings.server.stdio_principal, settings.server.stdio_role)
    return OgmuxServer(
        settings,
        default_principal=default,
        tools=tools,
        resources=resources,
        token_verifier=verifier,
        in_process=transport == "memory",
    )

