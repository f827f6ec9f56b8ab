"""ogmux server: the MCP surface and composition root.

Public API:
    Ogmux           run tools in-process for a principal (server.api)
    build_server    build the MCP server for stdio, HTTP or in-memory use (server.app)
    Settings        the typed settings (server.settings), load_settings to read ogmux.toml
"""

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
