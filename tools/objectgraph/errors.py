"""Typed errors of the ObjectGraph format layer."""

from __future__ import annotations

__all__ = ["ObjectGraphSyntaxError"]


class ObjectGraphSyntaxError(ValueError):
    """A malformed `.og` document: where (path:line:column, 1-based) and how to fix it."""

    def __init__(self, message: str, *, path: str | None, line: int, column: int = 1, hint: str = "") -> None:
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        self.hint = hint
        where = f"{path or '<string>'}:{line}:{column}"
        super().__init__(f"{where}: {message}" + (f" (hint: {hint})" if hint else ""))
