"""Turning exceptions and validation failures into messages a caller can act on."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from ogmux.server.audit import printable

__all__ = ["USER_ERRORS", "describe_validation_error"]

# Domain packages raise subclasses of these for caller mistakes; anything else is internal.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, LookupError, PermissionError, TimeoutError)


def _field_hint(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    if not loc or loc[0] not in model.model_fields:
        return ""
    field = model.model_fields[str(loc[0])]
    return f" ({field.description})" if field.description else ""


def describe_validation_error(tool: str, model: type[BaseModel], exc: ValidationError) -> str:
    """A message naming every bad argument, what was wrong, and the accepted arguments."""
    lines = [f"invalid arguments for tool {tool!r}:"]
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc) or "(arguments)"
        where = printable(where)  # argument names and dict keys are caller text
        if err["type"] == "extra_forbidden":
            accepted = ", ".join(model.model_fields) or "none"
            lines.append(f"  {where}: unknown argument; accepted: {accepted}")
        elif err["type"] == "missing":
            lines.append(f"  {where}: required argument is missing{_field_hint(model, loc)}")
        else:
            lines.append(f"  {where}: {err['msg']}{_field_hint(model, loc)}")
    return "\n".join(lines)
