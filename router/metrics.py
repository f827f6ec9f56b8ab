"""Parse vLLM's Prometheus `/metrics` text into the load signals the router uses."""

from __future__ import annotations

import math
import re

from pydantic import BaseModel, Field

__all__ = ["ReplicaMetrics", "parse_metrics"]

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


class ReplicaMetrics(BaseModel):
    """Load signals of one vLLM replica (summed over engines for one model)."""

    running: float = 0.0
    waiting: float = 0.0
    kv_cache_usage: float = Field(0.0, description="fraction 0..1 of KV-cache blocks in use")
    prefix_cache_hit_rate: float | None = Field(None, description="hits/queries since start; None before any query")
    ttft_mean_s: float | None = Field(None, description="mean time to first token since start")
    ttft_sum_s: float = 0.0
    ttft_count: float = 0.0
    itl_mean_s: float | None = Field(None, description="mean inter-token latency since start")
    itl_sum_s: float = 0.0
    itl_count: float = 0.0
    e2e_mean_s: float | None = None
    prompt_tokens_total: float = 0.0
    generation_tokens_total: float = 0.0


def _samples(text: str, model: str | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("vllm:"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        name, labels, value = m.groups()
        if labels:
            lab = dict(_LABEL.findall(labels))
            if model is not None and lab.get("model_name", model) != model:
                continue
            if "le" in lab or "quantile" in lab:
                continue
        try:
            v = float(value)
        except ValueError:
            continue
        if math.isnan(v):
            continue
        out[name] = out.get(name, 0.0) + v
    return out


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def parse_metrics(text: str, model: str | None = None) -> ReplicaMetrics:
    """Read the router's signals from Prometheus exposition `text`, optionally for one `model_name`.

    Accepts both `vllm:kv_cache_usage_perc` and the older `vllm:gpu_cache_usage_perc`
    (both are fractions despite the name).
    """
    s = _samples(text, model)
    kv = s.get("vllm:kv_cache_usage_perc", s.get("vllm:gpu_cache_usage_perc", 0.0))
    hits = s.get("vllm:prefix_cache_hits_total", s.get("vllm:gpu_prefix_cache_hits_total"))
    queries = s.get("vllm:prefix_cache_queries_total", s.get("vllm:gpu_prefix_cache_queries_total"))
    ttft_n = s.get("vllm:time_to_first_token_seconds_count", 0.0)
    itl_n = s.get("vllm:inter_token_latency_seconds_count", 0.0)
    return ReplicaMetrics(
        running=s.get("vllm:num_requests_running", 0.0),
        waiting=s.get("vllm:num_requests_waiting", 0.0),
        kv_cache_usage=min(1.0, max(0.0, kv)),
        prefix_cache_hit_rate=_ratio(hits, queries),
        ttft_mean_s=_ratio(s.get("vllm:time_to_first_token_seconds_sum"), ttft_n),
        ttft_sum_s=s.get("vllm:time_to_first_token_seconds_sum", 0.0),
        ttft_count=ttft_n,
        itl_mean_s=_ratio(s.get("vllm:inter_token_latency_seconds_sum"), itl_n),
        itl_sum_s=s.get("vllm:inter_token_latency_seconds_sum", 0.0),
        itl_count=itl_n,
        e2e_mean_s=_ratio(s.get("vllm:e2e_request_latency_seconds_sum"), s.get("vllm:e2e_request_latency_seconds_count")),
        prompt_tokens_total=s.get("vllm:prompt_tokens_total", 0.0),
        generation_tokens_total=s.get("vllm:generation_tokens_total", 0.0),
    )
