"""Typed errors of the solver package; each message says what is wrong, where, and how to fix it."""

from __future__ import annotations

__all__ = ["BoundsError", "ModelError", "NetworkError", "SizeLimitError", "SolverError"]


class SolverError(ValueError):
    """Base class: a caller mistake in a solver request."""


class ModelError(SolverError):
    """A malformed LP/MILP (unknown variable, bad bounds, unreadable file, ...)."""


class NetworkError(SolverError):
    """A network that cannot be embedded: non-ReLU activation, shape mismatch, NaN/inf weights, ..."""


class BoundsError(SolverError):
    """Missing, inconsistent or non-finite input bounds."""


class SizeLimitError(SolverError):
    """A model or network over the configured size limit."""
