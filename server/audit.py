"""One JSON line per tool call: who, what (hashed), outcome, size, latency."""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from typing import Any, Literal

from ogmux.server.settings import AuditSettings

__all__ = ["AuditLog", "Outcome", "hash_arguments"]

Outcome = Literal["ok", "error", "invalid", "denied", "rate_limited", "internal_error"]


def hash_arguments(arguments: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the arguments (the arguments themselves are never logged)."""
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditLog:
    """Writes audit records to stderr or a rotated file."""

    def __init__(self, settings: AuditSettings):
        self._logger = logging.getLogger(f"ogmux.audit.{id(self)}")
        self._logger.propagate = False
        self._logger.setLevel(logging.INFO)
        self._enabled = settings.sink != "off"
        if settings.sink == "file":
            settings.path.parent.mkdir(parents=True, exist_ok=True)
            handler: logging.Handler = RotatingFileHandler(
                settings.path, maxBytes=settings.max_bytes, backupCount=settings.backups, encoding="utf-8"
            )
        else:
            handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        self._handler = handler
        self._logger.addHandler(handler)

    def record(
        self,
        *,
        principal: str,
        role: str,
        tool: str,
        arguments: dict[str, Any],
        outcome: Outcome,
        result_bytes: int,
        latency_ms: float,
    ) -> None:
        if not self._enabled:
            return
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "principal": principal,
            "role": role,
            "tool": tool,
            "args_sha256": hash_arguments(arguments),
            "outcome": outcome,
            "result_bytes": result_bytes,
            "latency_ms": round(latency_ms, 3),
        }
        self._logger.info(json.dumps(line, separators=(",", ":")))

    def close(self) -> None:
        self._logger.removeHandler(self._handler)
        self._handler.close()
