"""ogmux server: the MCP surface and composition root.

Public API:
    Ogmux           run tools in-process for a principal (server.api)
    build_server    build the MCP server for stdio, HTTP or in-memory use (server.app)
    Settings        the typed settings (server.settings), load_settings to read ogmux.toml
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ogmux.server.api import Ogmux, OgmuxToolError
    from ogmux.server.app import OgmuxServer, build_server
    from ogmux.server.principal import Principal
    from ogmux.server.settings import ConfigError, Settings, load_settings
    from ogmux.server.version import __version__

__all__ = [
    "ConfigError",
    "Ogmux",
    "OgmuxServer",
    "OgmuxToolError",
    "Principal",
    "Settings",
    "__version__",
    "build_server",
    "load_settings",
]

# Where each export lives. Loaded on first use, so that a command that never serves (`ogmux index`,
# `ogmux --version`) does not import the MCP SDK.
_HOMES = {
    "ConfigError": "settings", "Ogmux": "api", "OgmuxServer": "app", "OgmuxToolError": "api",
    "Principal": "principal", "Settings": "settings", "__version__": "version", "build_server": "app",
    "load_settings": "settings",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"ogmux.server.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'ogmux.server' has no attribute {name!r}")
