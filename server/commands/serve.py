"""`ogmux serve`: run the MCP server over stdio (default) or streamable HTTP."""

from __future__ import annotations

import argparse
import errno
import importlib.util
import logging
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import anyio
import uvicorn

from ogmux.server.app import OgmuxServer, build_server, transport_security
from ogmux.server.cliutil import add_config_argument, config_path, settings_from_args
from ogmux.server.disconnect import cancel_on_disconnect
from ogmux.server.http_streams import refuse_get_streams
from ogmux.server.routing import check_router_files
from ogmux.server.settings import Settings
from ogmux.server.startup import (
    check_settings,
    corpus_warnings,
    http_warnings,
    startup_line,
    startup_warnings,
)

__all__ = ["listen", "register", "serve_http", "serve_stdio"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the MCP server (stdio by default; --http for streamable HTTP)")
    p.add_argument("--http", action="store_true", help="serve streamable HTTP (stateless) instead of stdio")
    p.add_argument("--host", default=None, help="HTTP bind address (default from config: 127.0.0.1)")
    p.add_argument("--port", type=_port, default=None, help="HTTP port (default from config: 8765)")
    p.add_argument("--corpus", type=Path, default=None, help="directory of .og/.md documents to serve")
    add_config_argument(p)
    p.set_defaults(func=run_serve)


def _port(text: str) -> int:
    """An argparse type: a TCP port number, 0 (any free port) to 65535."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a port: give a number from 1 to 65535, or 0 for any free port"
        )
    return int(text)


# What to do when the HTTP socket cannot be bound, by errno.
_LISTEN_HINTS = {
    errno.EADDRINUSE: "another process is listening there: stop it or pick another port with --port",
    errno.EACCES: "ports below 1024 need privileges: pick a port from 1024 up with --port",
    errno.EADDRNOTAVAIL: "no interface of this machine has that address: use --host 127.0.0.1, or 0.0.0.0 for every one",
}


def _configure_logging(settings: Settings) -> None:
    # stderr only: over stdio, stdout carries nothing but protocol messages. The handler's own level
    # silences libraries that set DEBUG on their loggers (bm25s does).
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(settings.server.log_level)
    logging.basicConfig(
        handlers=[handler], level=settings.server.log_level, format="%(levelname)s %(name)s: %(message)s"
    )


def run_serve(args: argparse.Namespace) -> int:
    settings = settings_from_args(
        args,
        **{
            "server.host": args.host,
            "server.port": args.port,
            "objectgraph.corpus": str(args.corpus.expanduser().resolve()) if args.corpus else None,
        },
    )
    _configure_logging(settings)
    check_router_files(settings, config_path(args))
    check_settings(settings)
    if not args.http:
        return _serve(args, settings, None)
    cfg = settings.server
    try:
        sock = listen(cfg.host, cfg.port)
    except OSError as exc:
        if isinstance(exc, socket.gaierror):
            hint = "the host name does not resolve: give --host an IP address or a known name"
        else:
            hint = _LISTEN_HINTS.get(exc.errno or 0, "check --host and --port")
        print(
            f"ogmux: cannot listen on {cfg.host}:{cfg.port}: {exc.strerror or exc} ({hint})", file=sys.stderr
        )
        return 1
    # Bound before the server is built: with port 0, the URLs it names (start-up line, 401 challenge,
    # JWT audience) carry the port the system gave.
    bound = settings.model_copy(update={"server": cfg.model_copy(update={"port": sock.getsockname()[1]})})
    with sock:
        return _serve(args, bound, sock)


def _serve(args: argparse.Namespace, settings: Settings, sock: socket.socket | None) -> int:
    """Build the server and serve over HTTP on `sock`, or over stdio when there is no socket."""
    try:
        server = build_server(settings, transport="stdio" if sock is None else "http")
    except ValueError as exc:  # e.g. unauthenticated HTTP on a non-loopback address, an unusable audit key
        print(f"ogmux: {exc}", file=sys.stderr)
        return 2
    if sock is not None:
        _announce(startup_line(server, config_path(args), "http"), server, http_warnings(settings))
        # uvloop when installed, as uvicorn itself would pick: less CPU per request than asyncio's own loop.
        uvloop = importlib.util.find_spec("uvloop") is not None
        anyio.run(serve_http, server, sock, backend_options={"use_uvloop": uvloop})
    else:
        _announce(startup_line(server, config_path(args), "stdio"), server)
        if sys.stdin.isatty():  # started by hand, not by an MCP client
            print(
                "ogmux: speaking MCP on stdin/stdout: an MCP client (Claude Desktop, the Inspector) starts this "
                "command itself; Ctrl-C stops it",
                file=sys.stderr,
                flush=True,
            )
        anyio.run(serve_stdio, server)
    return 0


def _announce(line: str, server: OgmuxServer, warnings: Sequence[str] = ()) -> None:
    """Print the start-up line, then `warnings`, one warning line per corpus file left out and per configured
    service that does not answer."""
    for text in (line, *warnings, *corpus_warnings(server), *startup_warnings(server.ogmux_settings)):
        print(text, file=sys.stderr, flush=True)


async def serve_stdio(server: OgmuxServer) -> None:
    """Serve over stdio until the client closes the pipe."""
    try:
        await server.run_stdio_async()
    finally:
        await server.state.aclose()


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (port 0 = any free port); raises OSError, e.g. when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


async def _announce_when_started(server: uvicorn.Server, url: str) -> None:
    while not server.started:
        await anyio.sleep(0.05)
    print(f"ogmux serving MCP at {url}", file=sys.stderr, flush=True)


async def serve_http(server: OgmuxServer, sock: socket.socket) -> None:
    """Serve stateless streamable HTTP on the bound `sock` with the Host allowlist (SSE unless `json_response`).

    The "serving" line is printed once uvicorn has started listening, never before.
    """
    cfg = server.ogmux_settings.server
    app = server.streamable_http_app(
        streamable_http_path=cfg.path,
        stateless_http=True,
        json_response=cfg.json_response,
        transport_security=transport_security(server.ogmux_settings),
        host=cfg.host,
    )
    if cfg.json_response:  # SSE responses notice a disconnect themselves
        app = cancel_on_disconnect(app)
    app = refuse_get_streams(app, cfg.path)
    config = uvicorn.Config(
        app, host=cfg.host, port=cfg.port, log_level=cfg.log_level.lower(), access_log=False
    )
    uv = uvicorn.Server(config)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_announce_when_started, uv, cfg.bind_url())
            await uv.serve(sockets=[sock])
            tg.cancel_scope.cancel()
    finally:
        await server.state.aclose()
