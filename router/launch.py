"""vLLM command lines for Mixture-of-Experts presets, parallelised for a given number of GPUs.

Plan for N GPUs: the smallest tensor-parallel size that holds the weights with headroom for
the KV cache (a power of two dividing N), data parallelism over the rest, and expert
parallelism across all ranks whenever N > 1 (vLLM then shards experts instead of
slicing each expert's matrices, the layout MoE models want).
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

__all__ = ["PRESETS", "LaunchPlan", "MoePreset", "plan_launch"]


class MoePreset(BaseModel):
    """A served MoE model and what vLLM needs to serve it well."""

    name: str
    model: str = Field(description="Hugging Face id")
    total_params_b: float
    active_params_b: float
    experts: int
    experts_per_token: int
    weights_gb: float = Field(description="checkpoint size as served (bf16, or MXFP4 for gpt-oss)")
    max_model_len: int
    extra: list[str] = Field(default_factory=list, description="model-specific flags (parsers, tokenizer mode)")


PRESETS: dict[str, MoePreset] = {
    p.name: p
    for p in [
        MoePreset(
            name="qwen3-30b-a3b", model="Qwen/Qwen3-30B-A3B", total_params_b=30.5, active_params_b=3.3,
            experts=128, experts_per_token=8, weights_gb=61, max_model_len=32768,
            extra=["--reasoning-parser", "qwen3", "--enable-auto-tool-choice", "--tool-call-parser", "hermes"],
        ),
        MoePreset(
            name="gpt-oss-20b", model="openai/gpt-oss-20b", total_params_b=21, active_params_b=3.6,
            experts=32, experts_per_token=4, weights_gb=13.8, max_model_len=131072,
            extra=["--reasoning-parser", "openai_gptoss", "--enable-auto-tool-choice", "--tool-call-parser", "openai"],
        ),
        MoePreset(
            name="mixtral-8x7b", model="mistralai/Mixtral-8x7B-Instruct-v0.1", total_params_b=46.7,
            active_params_b=12.9, experts=8, experts_per_token=2, weights_gb=93.4, max_model_len=32768,
            extra=["--enable-auto-tool-choice", "--tool-call-parser", "mistral"],
        ),
        MoePreset(
            name="olmoe-1b-7b", model="allenai/OLMoE-1B-7B-0924-Instruct", total_params_b=6.9, active_params_b=1.3,
            experts=64, experts_per_token=8, weights_gb=13.8, max_model_len=4096,
        ),
    ]
}

_WEIGHT_SHARE = 0.75  # leave ≥ 25 % of the usable GPU memory for KV cache and activations


class LaunchPlan(BaseModel):
    preset: MoePreset
    gpus: int
    tensor_parallel: int
    data_parallel: int
    expert_parallel: bool
    argv: list[str]


def plan_launch(
    preset: str,
    gpus: int = 1,
    gpu_mem_gb: float = 80.0,
    port: int = 8000,
    host: str = "0.0.0.0",
    gpu_memory_utilization: float = 0.9,
    max_model_len: int | None = None,
) -> LaunchPlan:
    """The `vllm serve` command line for `preset` on `gpus` GPUs of `gpu_mem_gb` each; ValueError if it cannot fit."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    if gpus < 1:
        raise ValueError("--gpus must be at least 1")
    p = PRESETS[preset]
    usable = gpu_mem_gb * gpu_memory_utilization * _WEIGHT_SHARE
    need = max(1, math.ceil(p.weights_gb / usable))
    tp = 1 << (need - 1).bit_length()
    if tp > gpus or gpus % tp:
        raise ValueError(
            f"{preset} ({p.weights_gb:g} GB of weights) needs tensor parallelism {tp} on {gpu_mem_gb:g} GB GPUs; "
            f"--gpus must be a multiple of {tp} (got {gpus})"
        )
    dp = gpus // tp
    ep = gpus > 1
    argv = [
        "vllm", "serve", p.model, "--served-model-name", p.name, "--host", host, "--port", str(port),
        "--tensor-parallel-size", str(tp), "--max-model-len", str(max_model_len or p.max_model_len),
        "--gpu-memory-utilization", f"{gpu_memory_utilization:g}", "--enable-prefix-caching",
    ]  # fmt: skip
    if dp > 1:
        argv += ["--data-parallel-size", str(dp)]
    if ep:
        argv += ["--enable-expert-parallel"]
    argv += p.extra
    return LaunchPlan(preset=p, gpus=gpus, tensor_parallel=tp, data_parallel=dp, expert_parallel=ep, argv=argv)
