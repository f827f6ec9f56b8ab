"""Keep what a mapping to the data model cannot rebuild: an overlay plus a list of absent keys."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["apply_residual", "residual", "same"]

_ABSENT = "__absent__"


def same(a: Any, b: Any) -> bool:
    """Equality that also distinguishes types (1 vs True vs 1.0) and treats NaN as equal to NaN."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(a[k] is b[k] or same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(x is y or same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def residual(raw: dict[str, Any], rebuilt: dict[str, Any]) -> dict[str, Any]:
    """The fields of `raw` that `rebuilt` misses or gets wrong, plus the keys `rebuilt` adds.

    The key order of `raw` is recorded so that `apply_residual` gives back `raw` exactly.
    """
    out: dict[str, Any] = {k: v for k, v in raw.items() if k not in rebuilt or not same(rebuilt[k], v)}
    absent = [k for k in rebuilt if k not in raw]
    if absent:
        out[_ABSENT] = absent
    if list(raw) != [k for k in rebuilt if k in raw] + [k for k in raw if k not in rebuilt]:
        out["__order__"] = list(raw)
    return out


def apply_residual(rebuilt: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Inverse of `residual`: `apply_residual(rebuilt, residual(raw, rebuilt)) == raw`."""
    out = dict(rebuilt)
    for k in extra.get(_ABSENT, []):
        out.pop(k, None)
    out.update({k: v for k, v in extra.items() if k not in (_ABSENT, "__order__")})
    order = extra.get("__order__")
    if order:
        out = {k: out[k] for k in order}
    return out
