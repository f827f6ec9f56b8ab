"""Pydantic models the router takes and returns: messages, requests, decisions, results, pool status."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ogmux.router.config import Capability, PolicyName

__all__ = [
    "Attempt",
    "CandidateScore",
    "ChatMessage",
    "ChatRequest",
    "ChatResult",
    "Decision",
    "FilterResult",
    "FunctionCall",
    "Guarantee",
    "MessageToolCall",
    "ModelStatus",
    "ReplicaStatus",
    "ToolCall",
    "Usage",
]


class FunctionCall(BaseModel):
    """The function an assistant message calls, in the OpenAI chat-completions shape."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="function name, as in the request's `tools`")
    arguments: str = Field(description="the arguments as JSON text, as the model wrote them (an object is encoded)")

    @field_validator("arguments", mode="before")
    @classmethod
    def _encode(cls, v: Any) -> Any:
        return json.dumps(v) if isinstance(v, dict) else v


class MessageToolCall(BaseModel):
    """One tool call carried by an assistant message: {id, type: "function", function: {name, arguments}}."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, description="the call's id; the 'tool' message with the result names it")
    type: Literal["function"] = Field("function", description="always 'function'")
    function: FunctionCall = Field(description="which function, with which arguments")


class ToolCall(BaseModel):
    """A tool call in a model's answer."""

    id: str = Field(description="the call's id; answer it with a 'tool' message whose tool_call_id is this id")
    name: str = Field(description="the function the model calls")
    arguments: str = Field(description="the arguments as JSON text, as the model produced it (not checked)")


class ChatMessage(BaseModel):
    """One chat message in the OpenAI chat-completions shape.

    `content` is text or content parts (text / image_url). An assistant message may carry
    `tool_calls` (then `content` may be null); a "tool" message answers one call by `tool_call_id`.
    """

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant", "tool"] = Field(description="who speaks")
    content: str | list[dict[str, Any]] | None = Field(
        None,
        description="text, or a list of {type: text|image_url, ...} parts; may be null only on an assistant "
        "message with tool_calls",
    )
    tool_calls: list[MessageToolCall] | None = Field(
        None, description="assistant only: the tool calls it made, as {id, type: function, function: {name, arguments}}"
    )
    tool_call_id: str | None = Field(None, min_length=1, description="'tool' messages only: the id of the call answered")

    @field_validator("content")
    @classmethod
    def _parts(cls, v: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
        if isinstance(v, list):
            for i, part in enumerate(v):
                if part.get("type") not in ("text", "image_url"):
                    raise ValueError(f"content[{i}].type must be 'text' or 'image_url', got {part.get('type')!r}")
        return v

    @model_validator(mode="after")
    def _tool_fields(self) -> ChatMessage:
        if self.role == "tool" and self.tool_call_id is None:
            raise ValueError("a 'tool' message needs tool_call_id: the id of the assistant tool call it answers")
        if self.role != "tool" and self.tool_call_id is not None:
            raise ValueError(f"tool_call_id belongs on a 'tool' message, not on a {self.role!r} one")
        if self.role != "assistant" and self.tool_calls:
            raise ValueError(f"tool_calls belong on an assistant message, not on a {self.role!r} one")
        if self.content is None and not (self.role == "assistant" and self.tool_calls):
            raise ValueError(
                f"content is required on a message with role {self.role!r}; only an assistant message with "
                "tool_calls may omit it"
            )
        return self

    def text(self) -> str:
        if self.content is None:
            return ""
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

    choices: list[str] = Field(description="per choice: the answer text (empty when the model only called tools)")
    tool_calls: list[list[ToolCall]] = Field(description="per choice: the tool calls the model made; empty when none")
    finish_reasons: list[str | None] = Field(
        description="per choice, as the backend reports it (e.g. stop, length, tool_calls; Anthropic: end_turn, tool_use)"
    )
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
