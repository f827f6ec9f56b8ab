"""Typed errors of the safety scorer; each message names the file, item and field at fault."""

from __future__ import annotations

__all__ = ["JudgeError", "RadsafeDataError", "RadsafeError"]


class RadsafeError(ValueError):
    """Base class of every error raised by evaluators.radsafe."""


class RadsafeDataError(RadsafeError):
    """Input data that cannot be scored: names where (file/line), which item and which field."""

    def __init__(self, message: str, *, source: str | None = None, item: str | None = None, field: str | None = None):
        self.source = source
        self.item = item
        self.field = field
        where = ", ".join(
            part
            for part in (
                source and f"{source}",
                item is not None and f"item {item!r}",
                field and f"field {field!r}",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class JudgeError(RadsafeError):
    """The answer judge could not produce a usable verdict."""
