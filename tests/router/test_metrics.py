"""Parsing vLLM /metrics text captured from a real vLLM 0.32 CPU server (idle, and with 12 running requests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ogmux.router.metrics import parse_metrics

DATA = Path(__file__).parent / "data"


def test_idle_server_signals():
    m = parse_metrics((DATA / "vllm-0.32-cpu-metrics.txt").read_text(), "tiny-b")
    assert (m.running, m.waiting, m.kv_cache_usage) == (0, 0, 0)
    assert m.prefix_cache_hit_rate == 0.0  # 0 hits of 128 queries
    assert m.ttft_count == 8 and m.ttft_mean_s == pytest.approx(0.1180119514465332 / 8)
    assert m.itl_mean_s == pytest.approx(0.6568391939999856 / 152)


def test_busy_server_signals():
    m = parse_metrics((DATA / "vllm-0.32-cpu-metrics-busy.txt").read_text(), "tiny-b")
    assert m.running == 12 and m.waiting == 0
    assert 0 < m.kv_cache_usage < 0.01


def test_other_models_are_ignored_and_old_kv_name_accepted():
    text = """# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage.
vllm:gpu_cache_usage_perc{model_name="m"} 0.75
vllm:num_requests_running{engine="0",model_name="m"} 3.0
vllm:num_requests_running{engine="1",model_name="m"} 2.0
vllm:num_requests_running{engine="0",model_name="other"} 9.0
vllm:num_requests_waiting{model_name="m"} NaN
vllm:time_to_first_token_seconds_bucket{le="0.1",model_name="m"} 4.0
"""
    m = parse_metrics(text, "m")
    assert m.kv_cache_usage == 0.75 and m.running == 5 and m.waiting == 0
    assert m.ttft_mean_s is None and m.prefix_cache_hit_rate is None
