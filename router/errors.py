"""Typed router errors; each subclasses the builtin that says whose mistake it is."""

from __future__ import annotations

__all__ = [
    "BackendError",
    "BackendUnavailableError",
    "BudgetExceededError",
    "NoCandidateError",
    "RouterError",
    "StreamInterruptedError",
    "UnknownModelError",
    "UnknownPolicyError",
    "UpstreamRejectedError",
]


class RouterError(Exception):
    """Base of every router error."""


class UnknownModelError(RouterError, LookupError):
    """The request named a model that is not in the pool."""


class UnknownPolicyError(RouterError, ValueError):
    """The request named a policy the router does not have."""


class NoCandidateError(RouterError, ValueError):
    """The hard filters removed every model (prompt too long, missing capability, privacy)."""


class BudgetExceededError(RouterError, PermissionError):
    """The caller's role has no budget left for this request."""


class BackendUnavailableError(RouterError, TimeoutError):
    """No replica of any eligible model can take the request now (all down, or the deadline passed)."""


class UpstreamRejectedError(RouterError, ValueError):
    """A backend refused the request as malformed (HTTP 400/404/422); retrying elsewhere would not help."""

    def __init__(self, message: str, status: int, context_overflow: bool = False):
        super().__init__(message)
        self.status = status
        self.context_overflow = context_overflow


class BackendError(RouterError):
    """A retryable backend failure (429, 5xx, connection error, timeout).

    `summary` (the message without `upstream`, the text the backend sent) is what the replica's breaker
    keeps and every caller may see: an upstream body can quote the failed call's prompt."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        retry_after_s: float | None = None,
        unreachable: bool = False,
        upstream: str = "",
    ):
        super().__init__(f"{message}: {upstream}" if upstream else message)
        self.summary = message
        self.status = status
        self.retry_after_s = retry_after_s
        self.unreachable = unreachable


class StreamInterruptedError(RouterError, TimeoutError):
    """The stream broke after bytes were sent to the caller, so no fallback was possible."""
