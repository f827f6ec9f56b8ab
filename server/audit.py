"""One bounded JSON line per tool call, resource read, prompt or completion: who, what (keyed hash),
outcome, size, latency.

Caller-controlled strings (tool names, resource URIs, principal names) are cut to NAME_CHARS escaped
characters, so no line exceeds MAX_LINE_BYTES. Arguments are never written: only their HMAC-SHA256
under a server secret, so a guessed argument cannot be confirmed from the log. Rotation never
silently deletes recent records: a file due for deletion whose newest record is younger than
`audit.retain_minutes` is moved aside (`<path>.kept-<UTC time>`) with a warning on stderr.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import sys
import time
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any, Literal

from ogmux.server.settings import AuditSettings

__all__ = ["MAX_LINE_BYTES", "AuditLog", "Outcome", "bounded", "hash_arguments", "load_audit_key", "printable"]

Outcome = Literal["ok", "error", "invalid", "denied", "rate_limited", "busy", "cancelled", "internal_error"]

NAME_CHARS = 200  # escaped characters kept of a caller-controlled string (tool name, URI)
MAX_LINE_BYTES = 2048  # 4 bounded strings + fixed fields stay well under it
KEY_BYTES = 32


def bounded(text: str, limit: int = NAME_CHARS) -> str:
    """`text` cut so that its JSON-escaped form has at most `limit` characters, with a marker saying how much went."""
    if len(text) <= limit and len(json.dumps(text)) - 2 <= limit:
        return text
    budget, kept = limit - 24, 0  # room for the marker
    for ch in text[:budget]:
        budget -= len(json.dumps(ch)) - 2
        if budget < 0:
            break
        kept += 1
    return f"{text[:kept]}...[+{len(text) - kept} chars]"


def printable(text: str, limit: int = NAME_CHARS) -> str:
    """`text` for a message: control and non-printable characters escaped, cut to `limit` characters."""
    if len(text) <= limit and text.isprintable():
        return text
    escaped = text[:limit].encode("unicode_escape").decode("ascii")
    if len(text) <= limit and len(escaped) <= limit:
        return escaped
    return f"{escaped[:limit]}...[{len(text)} chars in all]"


def hash_arguments(arguments: Any, key: bytes) -> str:
    """HMAC-SHA256 under `key` of the canonical JSON of the arguments (never the arguments themselves)."""
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(key, canonical.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def _default_key_file(settings: AuditSettings) -> Path:
    if settings.sink == "file":
        return settings.path.parent / "ogmux-audit.key"
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "ogmux" / "audit.key"


def load_audit_key(settings: AuditSettings) -> bytes:
    """The server's audit secret: from `key_env`, else `key_file` (created with mode 0600 on first start).

    When the file can be neither read nor created, a per-process key is used and stderr says so
    (hashes then cannot be compared across restarts).
    """
    if settings.key_env:
        value = os.environ.get(settings.key_env, "")
        if len(value) < 16:
            raise ValueError(
                f"audit.key_env names {settings.key_env!r}, which must hold a secret of at least 16 characters"
            )
        return value.encode()
    path = settings.key_file or _default_key_file(settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        print(f"ogmux: audit key file {path} cannot be created ({exc.strerror}); using a key for this process only",
              file=sys.stderr, flush=True)
        return secrets.token_bytes(KEY_BYTES)
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(KEY_BYTES))
    try:
        key = bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise ValueError(f"audit key file {path} is unreadable or not hex ({exc}); delete it to make a new one") from None
    if len(key) < 16:
        raise ValueError(f"audit key file {path} holds fewer than 16 bytes; delete it to make a new one")
    mode = path.stat().st_mode & 0o777
    if os.name == "posix" and mode & 0o077:  # whoever reads the key can test guesses against the logged hashes
        print(f"ogmux: warning: audit key file {path} can be read by other users (mode {mode:04o}): "
              f"run chmod 600 {path}", file=sys.stderr, flush=True)
    return key


class _KeepRecentRotatingHandler(RotatingFileHandler):
    """Size-based rotation that moves aside, instead of deleting, a backup holding recent records."""

    def __init__(self, path: Path, max_bytes: int, backups: int, retain_s: float):
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self.retain_s = retain_s

    def doRollover(self) -> None:
        oldest = Path(f"{self.baseFilename}.{self.backupCount}")
        if self.backupCount > 0 and oldest.exists():
            age = time.time() - oldest.stat().st_mtime  # mtime = when its newest record was written
            if age < self.retain_s:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
                kept = oldest.with_name(f"{Path(self.baseFilename).name}.kept-{stamp}")
                oldest.rename(kept)
                print(
                    f"ogmux: audit rotation would delete records written {age / 60:.1f} min ago (under "
                    f"audit.retain_minutes); kept them in {kept}. The log is growing faster than "
                    "max_bytes x backups per retain_minutes: check for a flood of calls.",
                    file=sys.stderr,
                    flush=True,
                )
        super().doRollover()


class AuditLog:
    """Writes bounded audit records to stderr or a rotated file."""

    def __init__(self, settings: AuditSettings):
        self._logger = logging.getLogger(f"ogmux.audit.{id(self)}")
        self._logger.propagate = False
        self._logger.setLevel(logging.INFO)
        self._enabled = settings.sink != "off"
        self._key = load_audit_key(settings) if self._enabled else b""
        if settings.sink == "file":
            settings.path.parent.mkdir(parents=True, exist_ok=True)
            handler: logging.Handler = _KeepRecentRotatingHandler(
                settings.path, settings.max_bytes, settings.backups, settings.retain_minutes * 60
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
        tool: str | None = None,
        resource: str | None = None,
        prompt: str | None = None,
        completion: str | None = None,
        arguments: Any,
        outcome: Outcome,
        result_bytes: int,
        latency_ms: float,
    ) -> None:
        """Write one line for a tool call (`tool`), a resource read (`resource`, its URI), a prompt
        (`prompt`) or a completion (`completion`, the template URI or prompt name it completes)."""
        if not self._enabled:
            return
        line: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "principal": bounded(principal),
            "role": bounded(role),
        }
        if resource is not None:
            line["resource"] = bounded(resource)
        elif prompt is not None:
            line["prompt"] = bounded(prompt)
        elif completion is not None:
            line["completion"] = bounded(completion)
        else:
            line["tool"] = bounded(tool or "")
        line.update(
            args_hmac=hash_arguments(arguments, self._key),
            outcome=outcome,
            result_bytes=result_bytes,
            latency_ms=round(latency_ms, 3),
        )
        # ASCII JSON: every control and non-ASCII character is escaped, so a record is one line.
        self._logger.info(json.dumps(line, separators=(",", ":")))

    def close(self) -> None:
        self._logger.removeHandler(self._handler)
        self._handler.close()
