"""Settings of a server with an `admin` role and a `reader` role limited to the ObjectGraph tools and public
scope, serving one corpus: the common ground of the hidden-channel and listing tests."""

from __future__ import annotations

from pathlib import Path

from ogmux.server.settings import Settings, load_settings

__all__ = ["reader_settings"]


def reader_settings(corpus: Path) -> Settings:
    """Admin and public-scope reader over `corpus`; stdio callers are readers; no audit; a loose rate limit."""
    return load_settings(None, **{
        "roles": {"admin": {}, "reader": {"tools": ["search_index", "resolve_context"], "scopes": ["public"]}},
        "server.stdio_role": "reader",
        "objectgraph.corpus": str(corpus),
        "audit.sink": "off",
        "rate_limit": {"rate": 1000, "burst": 1000},
    })  # fmt: skip
