"""Pieces shared by the command modules: the --config option and settings loading."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ogmux.server.settings import Settings, load_settings

__all__ = ["DEFAULT_CONFIG", "add_config_argument", "file_error", "settings_from_args", "unknown_role"]

DEFAULT_CONFIG = Path("ogmux.toml")


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """Add `--config FILE` to a command."""
    parser.add_argument(
        "--config", type=Path, default=None,
        help="settings file (TOML); default: ./ogmux.toml if present; OGMUX_* variables override it",
    )


def config_path(args: argparse.Namespace) -> Path | None:
    """The settings file in use: --config, else ./ogmux.toml when present."""
    path = getattr(args, "config", None)
    return DEFAULT_CONFIG if path is None and DEFAULT_CONFIG.exists() else path


def settings_from_args(args: argparse.Namespace, **overrides: Any) -> Settings:
    """Load settings from --config (or ./ogmux.toml when present) plus dotted-key overrides that are not None."""
    return load_settings(config_path(args), **{k: v for k, v in overrides.items() if v is not None})


def unknown_role(args: argparse.Namespace, role: str, settings: Settings) -> str:
    """One line for a --role the settings in use do not define: the roles they define and where to add it."""
    path = config_path(args)
    where = path or "the default settings (no --config FILE, no ./ogmux.toml)"
    fix = f"add [roles.{role}] to {path}" if path else "pass --config with the settings file that defines it"
    roles = ", ".join(sorted(settings.roles))
    return f"error: role {role!r} is not defined in {where}; defined roles: {roles} ({fix}, or pick one of these)"


def file_error(exc: OSError) -> str:
    """One line for a file a command could not read or write: the path and the system's reason."""
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc} (check the path and its permissions)"
