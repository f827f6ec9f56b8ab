"""Router configuration: the backend pool, polling, timeouts, retries, policies and budgets.

Domain code never reads environment variables: `api_key_env` only names the variable; the
server resolves it and hands the keys to `Router`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "BackendConfig",
    "BreakerPolicy",
    "BudgetPeriod",
    "Capability",
    "PolicyName",
    "RetryPolicy",
    "RouterConfig",
    "StaticRule",
]

Capability = Literal["tools", "json", "vision"]
PolicyName = Literal["static", "cost_quality", "cascade", "load"]
BudgetPeriod = Literal["none", "day", "month"]

_DEFAULT_URLS = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BackendConfig(_Section):
    """One model in the pool, served by one or more replicas."""

    name: str = Field(min_length=1, description="name agents and rules use for this model")
    kind: Literal["vllm", "openai", "anthropic"] = Field(description="wire protocol / SDK used to call it")
    model: str = Field("", description="model id sent upstream; empty = `name`")
    replicas: list[str] = Field(
        default_factory=list,
        description="vllm: server root URLs (http://host:8000); openai/anthropic: API base URLs (default: public API)",
    )
    api_key_env: str = Field(
        "", description="environment variable holding the API key (resolved by the server)"
    )
    price_in_per_mtok: float = Field(0.0, ge=0, description="USD per 1M input tokens")
    price_out_per_mtok: float = Field(0.0, ge=0, description="USD per 1M output tokens")
    context_length: int | None = Field(
        None, ge=1, description="max prompt+completion tokens; vllm: discovered from /v1/models when unset"
    )
    capabilities: list[Capability] = Field(default_factory=list, description="tools, json, vision")
    privacy: Literal["local", "hosted"] | None = Field(
        None, description="local or hosted; default: vllm=local"
    )
    quality: float = Field(
        0.5, ge=0, le=1, description="prior quality on hard queries (0..1), used by scoring"
    )

    @model_validator(mode="after")
    def _defaults(self) -> BackendConfig:
        if not self.model:
            self.model = self.name
        if self.privacy is None:
            self.privacy = "local" if self.kind == "vllm" else "hosted"
        if not self.replicas:
            if self.kind == "vllm":
                raise ValueError(f"backend {self.name!r}: kind 'vllm' needs at least one replica URL")
            self.replicas = [_DEFAULT_URLS[self.kind]]
        self.replicas = [u.rstrip("/") for u in self.replicas]
        return self


class RetryPolicy(_Section):
    """Retries of retryable failures (429, 5xx, connection errors, timeouts)."""

    max_attempts: int = Field(4, ge=1, le=20, description="attempts over all replicas and fallback models")
    backoff_base_s: float = Field(0.05, ge=0, description="first backoff; doubles each retry")
    backoff_max_s: float = Field(2.0, ge=0, description="longest single backoff")
    attempt_timeout_s: float | None = Field(
        None,
        gt=0,
        description="time an attempt may take to its first streamed byte (to the whole answer when not"
        " streamed) before the next replica in the plan is tried; default: the rest of the deadline",
    )


class BreakerPolicy(_Section):
    """Per-replica circuit breaker."""

    failure_threshold: int = Field(3, ge=1, description="consecutive failures that open the breaker")
    cooldown_s: float = Field(
        5.0, gt=0, description="open time before a half-open probe (Retry-After wins if longer)"
    )


class StaticRule(_Section):
    """`static` policy rule: the first rule whose conditions all hold picks `model`."""

    model: str = Field(min_length=1, description="backend name chosen when the rule matches")
    role: str = Field("", description="only for this role; empty = any")
    min_prompt_tokens: int = Field(0, ge=0)
    max_prompt_tokens: int | None = Field(None, ge=0)
    contains: list[str] = Field(
        default_factory=list, description="match if the last user message contains any (case-insensitive)"
    )


class RouterConfig(_Section):
    """The `[router]` section of ogmux.toml."""

    backends: list[BackendConfig] = Field(default_factory=list, description="the model pool")
    poll_interval_s: float = Field(2.0, ge=1, le=5, description="seconds between /health + /metrics polls")
    probe_timeout_s: float = Field(
        1.0, gt=0, le=10, description="timeout of one health/metrics/discovery probe"
    )
    request_timeout_s: float = Field(
        120.0, gt=0, description="deadline of the whole call chain (retries included)"
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = Field(default_factory=BreakerPolicy)
    default_policy: PolicyName = Field("load", description="static | cost_quality | cascade | load")
    rules: list[StaticRule] = Field(
        default_factory=list, description="rules of the static policy, first match wins"
    )
    willing_to_pay_usd: float = Field(
        0.05, gt=0, description="USD per unit of expected quality: converts request cost into the score"
    )
    latency_weight: float = Field(
        0.05, ge=0, description="score lost per second of predicted latency (load policy)"
    )
    affinity_load_gate: float = Field(
        0.5,
        ge=0,
        le=1,
        description="prefix affinity applies only to replicas with KV use and queue share below this",
    )
    local_only: bool = Field(False, description="never send anything to hosted backends")
    role_budgets_usd: dict[str, float] = Field(
        default_factory=dict, description="spend limit per role in USD (absent role = unlimited)"
    )
    budget_period: BudgetPeriod = Field(
        "none", description="role budgets and spend start again each UTC day or month; none = never"
    )
    local_only_roles: list[str] = Field(
        default_factory=list, description="roles restricted to local backends"
    )
    predictor_path: Path | None = Field(None, description="quality predictor file (`ogmux router train`)")
    calibration_path: Path | None = Field(
        None, description="cascade calibration file (`ogmux router calibrate`)"
    )
    cascade_weak: str = Field("", description="cascade's cheap model; empty = cheapest eligible")
    cascade_strong: str = Field("", description="cascade's strong model; empty = highest-quality eligible")

    @model_validator(mode="after")
    def _unique(self) -> RouterConfig:
        names = [b.name for b in self.backends]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate backend names: {dup}")
        known = set(names)
        refs = [("rules.model", r.model) for r in self.rules]
        refs += [("cascade_weak", self.cascade_weak), ("cascade_strong", self.cascade_strong)]
        for key, name in refs:
            if name and name not in known:
                raise ValueError(f"{key} {name!r} is not a configured backend (configured: {sorted(known)})")
        return self

    def backend(self, name: str) -> BackendConfig:
        for b in self.backends:
            if b.name == name:
                return b
        raise KeyError(name)
