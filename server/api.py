"""Programmatic use: run ogmux tools in-process, with the same validation and access checks.

Example:
    >>> from ogmux import Ogmux
    >>> og = Ogmux()                                   # defaults, or Ogmux.from_file("ogmux.toml")
    >>> info = og.call("server_info", {})              # as the configured local principal
    >>> info["role"]
    'admin'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from ogmux.server.app import OgmuxServer, ToolCallError, build_server
from ogmux.server.principal import Principal, principal_for
from ogmux.server.schemas import ToolFormat, tool_definitions
from ogmux.server.settings import Settings, load_settings

__all__ = ["Ogmux", "OgmuxToolError"]

class OgmuxToolError(Exception):
    """A tool call was refused or failed; `outcome` says how (denied, invalid, rate_limited, error, ...)."""

    def __init__(self, outcome: str, message: str):
        self.outcome = outcome
        super().__init__(message)

class Ogmux:
    """The ogmux tools as a Python API."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or load_settings()
        self.server: OgmuxServer = build_server(self.settings, transport="memory")

    @classmethod
    def from_file(cls, path: str | Path) -> Ogmux:
        """Load settings from a TOML file (plus OGMUX_* environment overrides)."""
        return cls(load_settings(Path(path)))

    def principal(self, principal_id: str | None = None, role: str | None = None) -> Principal:
        """A principal acting as `role` (default: the configured local principal); ValueError for an unknown role."""
        cfg = self.settings.server
        role = role or cfg.stdio_role
        if role not in self.settings.roles:
            raise ValueError(
                f"unknown role {role!r}: this configuration defines {', '.join(sorted(self.settings.roles))}; "
                f"add a [roles.{role}] section to the settings file (`ogmux config example` documents it)"
            )
        return principal_for(self.settings, principal_id or cfg.stdio_principal, role)

    async def acall(self, tool: str, arguments: dict[str, Any], principal: Principal | None = None) -> dict[str, Any]:
        """Call `tool` for `principal`; return its structured result or raise OgmuxToolError."""
        who = principal or self.server.default_principal
        try:
            result = await self.server.run_tool(tool, arguments, who)
        except ToolCallError as exc:
            raise OgmuxToolError(exc.outcome, str(exc)) from None
        return result.model_dump(mode="json")

    def call(self, tool: str, arguments: dict[str, Any], principal: Principal | None = None) -> dict[str, Any]:
        """Blocking form of `acall`."""
        return anyio.run(self.acall, tool, arguments, principal)

    def tool_definitions(
        self, fmt: ToolFormat = "mcp", principal: Principal | None = None
    ) -> list[dict[str, Any]]:
        """JSON definitions of the tools `principal` may call, for MCP, OpenAI or Anthropic function calling."""
        who = principal or self.server.default_principal
        return tool_definitions(self.server.visible_specs(who), fmt)

    async def aclose(self) -> None:
        await self.server.state.aclose()
