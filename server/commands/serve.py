"""`ogmux serve`: run the MCP server over stdio (default) or streamable HTTP."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from pathlib import Path

import anyio
import uvicorn

from ogmux.server.app import OgmuxServer, build_server, transport_security
from ogmux.server.cliutil import add_config_argument, config_path, settings_from_args
from ogmux.server.routing import check_router_files
from ogmux.server.settings import Settings
from ogmux.server.startup import startup_line

__all__ = ["register", "serve_http", "serve_stdio"]

def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the MCP server (stdio by default; --http for streamable HTTP)")
    p.add_argument("--http", action="store_true", help="serve streamable HTTP (stateless) instead of stdio")
    p.add_argument("--host", default=None, help="HTTP bind address (default from config: 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="HTTP port (default from config: 8765)")
    p.add_argument("--corpus", type=Path, default=None, help="directory of .og/.md documents to serve")
    add_config_argument(p)
    p.set_defaults(func=run_serve)


def _configure_logging(settings: Settings) -> None:
    # stderr only: over stdio, stdout carries nothing but protocol messages. The handler's own level
    # silences libraries that set DEBUG on their loggers (bm25s does).
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(settings.server.log_level)
    logging.basicConfig(handlers=[handler], level=settings.server.log_level, format="%(levelname)s %(name)s: %(message)s")


def run_serve(args: argparse.Namespace) -> int:
    settings = settings_from_args(
        args,
        **{
            "server.host": args.host,
            "server.port": args.port,
            "objectgraph.corpus": str(args.corpus.resolve()) if args.corpus else None,
        },
    )
    _configure_logging(settings)
    check_router_files(settings, config_path(args))
    if args.http:
        server = build_server(settings, transport="http")
        print(startup_line(server, config_path(args), "http"), file=sys.stderr, flush=True)
        # uvloop when installed, as uvicorn itself would pick: less CPU per request than asyncio's own loop.
        uvloop = importlib.util.find_spec("uvloop") is not None
        anyio.run(serve_http, server, backend_options={"use_uvloop": uvloop})
    else:
        server = build_server(settings, transport="stdio")
        print(startup_line(server, config_path(args), "stdio"), file=sys.stderr, flush=True)
        anyio.run(serve_stdio, server)
    return 0


async def serve_stdio(server: OgmuxServer) -> None:
    """Serve over stdio until the client closes the pipe."""
    try:
        await server.run_stdio_async()
    finally:
        await server.state.aclose()


async def serve_http(server: OgmuxServer) -> None:
    """Serve stateless streamable HTTP with the Host allowlist (SSE responses unless `json_response`)."""
    cfg = server.ogmux_settings.server
    app = server.streamable_http_app(
        streamable_http_path=cfg.path,
        stateless_http=True,
        json_response=cfg.json_response,
        transport_security=transport_security(server.ogmux_settings),
        host=cfg.host,
    )
    config = uvicorn.Config(app, host=cfg.host, port=cfg.port, log_level=cfg.log_level.lower(), access_log=False)
    print(f"ogmux serving MCP at http://{cfg.host}:{cfg.port}{cfg.path}", file=sys.stderr, flush=True)
    try:
        await uvicorn.Server(config).serve()
    finally:
        await server.state.aclose()
