"""Pydantic models the router takes and returns: messages, requests, decisions, results, pool status."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from router.config import Capability, PolicyName

__all__ = [
    "Attempt",
    "CandidateScore",
    "ChatMessage",
    "ChatRequest",
    "ChatResult",
    "Decision",
    "FilterResult",
    "Guarantee",
    "ModelStatus",
    "ReplicaStatus",
    "Usage",
]


class ChatMessage(BaseModel):
    """One chat message; `content` is text or OpenAI-style content parts (text / image_url)."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant", "tool"] = Field(description="who speaks")
    content: str | list[dict[str, Any]] = Field(description="text, or a list of {type: text|image_url, ...} parts")

    @field_validator("content")
    @classmethod
    def _parts(cls, v: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
        if isinstance(v, list):
            for i, part in enumerate(v):
                if part.get("type") not in ("text", "image_url"):
                    raise ValueError(f"content[{i}].type must be 'text' or 'image_url', got {part.get('type')!r}")
        return v

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "\n".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")

    def has_image(self) -> bool:
        return isinstance(self.content, list) and any(p.get("type") == "image_url" for p in self.content)


class ChatRequest(BaseModel):
    """A chat completion request as the router sees it."""

    model_config = ConfigDict(extra="forbid")

    messages: list[ChatMessage] = Field(min_length=1)
    model: str | None = Field(None, description="force this backend name (filters still apply)")
    policy: PolicyName | None = Field(None, description="override the configured default policy")
    max_tokens: int = Field(256, ge=1, le=32768)
    temperature: float = Field(0.7, ge=0, le=2)
    n: int = Field(1, ge=1, le=16)
    json_output: bool = Field(False, description="ask for a JSON object answer")
    tools: list[dict[str, Any]] = Field(default_factory=list, description="OpenAI-style tool definitions")
    local_only: bool = Field(False, description="only local (self-hosted) backends")
    session: str = Field("", description="session key for prefix affinity")
    timeout_s: float | None = Field(None, gt=0, description="deadline for the whole chain (capped by config)")

    def needs(self) -> set[Capability]:
        need: set[Capability] = set()
        if self.json_output:
            need.add("json")
        if self.tools:
            need.add("tools")
        if any(m.has_image() for m in self.messages):
            need.add("vision")
        return need

    def prompt(self) -> str:
        """The last user message: what predictors and rules look at."""
        users = [m for m in self.messages if m.role == "user"]
        return (users[-1] if users else self.messages[-1]).text()


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class FilterResult(BaseModel):
    """What one hard filter did."""

    name: str
    removed: dict[str, str] = Field(default_factory=dict, description="backend -> reason")


class CandidateScore(BaseModel):
    """One (model, replica) candidate and the terms of its score."""

    model: str
    replica: str
    score: float
    expected_quality: float
    est_cost_usd: float
    predicted_latency_s: float
    affinity: bool = False


class Guarantee(BaseModel):
    """The cascade's statistical guarantee and the calibration it came from."""

    method: str = Field(description="ltt_risk, ctd_budget or ltt_risk_budget")
    alpha: float | None = Field(description="bound on the failure rate among non-escalated requests")
    budget: float | None = Field(description="bound on the escalation rate")
    delta: float = Field(description="probability that the bounds do not hold")
    threshold: float | None = Field(description="escalate when score >= threshold; None = escalate everything")
    n: int = Field(description="calibration requests")
    calibration_source: str
    calibration_version: str = Field(description="file format, data hash prefix and creation time")
    score: float = Field(description="this request's predictor score")
    escalated: bool


class Decision(BaseModel):
    """Why the router picked what it picked."""

    policy: PolicyName
    prompt_tokens: int
    filters: list[FilterResult]
    candidates: list[CandidateScore] = Field(description="best first")
    model: str
    replica: str
    reason: str
    guarantee: Guarantee | None = None
    predictor_score: float | None = None
    decision_time_us: float = 0.0


class Attempt(BaseModel):
    model: str
    replica: str
    outcome: str
    elapsed_s: float


class ChatResult(BaseModel):
    """A completed chat: the choices, which backend answered, usage and cost, and the decision."""

    choices: list[str]
    finish_reasons: list[str | None]
    model: str
    replica: str
    usage: Usage
    decision: Decision
    attempts: list[Attempt]
    routed_experts: list[dict[str, int]] | None = Field(
        None, description="per choice: expert id -> times selected (vLLM with --enable-return-routed-experts)"
    )


class ReplicaStatus(BaseModel):
    url: str
    healthy: bool
    breaker: Literal["closed", "open", "half_open"]
    retry_in_s: float
    last_error: str
    in_flight: int
    running: float
    waiting: float
    kv_cache_usage: float
    prefix_cache_hit_rate: float | None
    ttft_mean_s: float | None
    polled_age_s: float | None


class ModelStatus(BaseModel):
    name: str
    kind: str
    model: str
    privacy: str
    capabilities: list[str]
    context_length: int | None
    price_in_per_mtok: float
    price_out_per_mtok: float
    quality: float
    replicas: list[ReplicaStatus]
    expert_usage: dict[str, int] | None = Field(None, description="expert id -> selections summed over requests")
