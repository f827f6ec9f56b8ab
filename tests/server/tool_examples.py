"""One example call per tool on the bundled demo data (corpus, safety run, a small MILP and network), for
result-size tests and benchmarks/bench_economy.py. Router tools call the local wire-format server."""

from __future__ import annotations

from typing import Any

from ogmux.demo import SAFETY_RUNS
from ogmux.server.settings import Settings, load_settings

_LAYERS = [
    {"weight": [[1.0, -1.0], [0.5, 1.0], [-1.0, 0.5], [1.0, 1.0]], "bias": [0.0, 0.1, -0.1, 0.2]},
    {"weight": [[1.0, -1.0, 0.5, 1.0]], "bias": [0.0]},
]
_NETWORK = {"network": {"inline": {"layers": _LAYERS}}, "bounds": {"lower": [-1, -1], "upper": [1, 1]}}
_KNAPSACK = {
    "variables": [{"name": f"x{i}", "type": "binary"} for i in range(6)],
    "constraints": [{"name": "weight", "terms": {f"x{i}": w for i, w in enumerate([5, 4, 3, 2, 6, 1])},
                     "sense": "<=", "rhs": 10}],
    "objective": {f"x{i}": v for i, v in enumerate([10, 7, 6, 3, 9, 2])},
    "sense": "maximize",
}  # fmt: skip
_OPTIONS = {"A": {"text": "restart the replica"}, "B": {"text": "delete the volume", "high_risk": True},
            "C": {"text": "wait"}, "D": {"text": "rotate the tokens"}}  # fmt: skip
_CHAT = [{"role": "user", "content": "Say hello in five words."}]

# (tool, arguments): the call an agent makes most, with the defaults it most often leaves.
EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("server_info", {}),
    ("search_index", {"query": "how do I restart the server after rotating tokens"}),
    ("resolve_context", {"ids": ["ogmux-runbook#restart", "ogmux-runbook#rotate-tokens"]}),
    ("resolve_context", {"ids": ["ogmux-runbook#restart"], "level": "full"}),
    ("list_models", {}),
    ("route_model", {"messages": _CHAT}),
    ("chat", {"messages": _CHAT, "max_tokens": 32}),
    ("score_safety", {"options": _OPTIONS, "answer": "A", "greedy": "B", "samples": ["B", "B", "A", "B"]}),
    ("safety_report", {"run": "radsafe-synthetic"}),
    ("safety_report", {"run": "radsafe-synthetic", "sections": ["cells"]}),
    ("solve_milp", {"model": _KNAPSACK}),
    ("analyze_network", _NETWORK),
    ("optimize_surrogate", {**_NETWORK, "objective": {"sense": "maximize"}}),
]


def example_settings(wire: str) -> Settings:
    """Default settings with the bundled safety runs and two backends on the wire server at `wire`."""
    backends = [
        {"name": "cheap", "kind": "openai", "model": "ok", "replicas": [f"{wire}/v1"], "quality": 0.4,
         "price_in_per_mtok": 0.5, "price_out_per_mtok": 1.0, "context_length": 4096},
        {"name": "claude", "kind": "anthropic", "model": "ok", "replicas": [wire], "quality": 0.9,
         "price_in_per_mtok": 3.0, "price_out_per_mtok": 15.0, "context_length": 100000},
    ]  # fmt: skip
    return load_settings(None, **{"router.backends": backends, "eval.runs_dir": str(SAFETY_RUNS), "audit.sink": "off"})
