"""`ogmux vllm cmd|up PRESET`: print or launch a vLLM server for a Mixture-of-Experts preset."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys

from ogmux.router.launch import PRESETS, plan_launch
from ogmux.text import plural


def _plan(args: argparse.Namespace):
    try:
        return plan_launch(args.preset, args.gpus, args.gpu_mem_gb, args.port, args.host, max_model_len=args.max_model_len)
    except ValueError as exc:
        print(f"ogmux vllm: {exc}", file=sys.stderr)
        return None


def _cmd(args: argparse.Namespace) -> int:
    plan = _plan(args)
    if plan is None:
        return 2
    p = plan.preset
    print(
        f"# {p.model}: {p.total_params_b:g}B total / {p.active_params_b:g}B active, {p.experts} experts top-{p.experts_per_token}; "
        f"{plural(plan.gpus, 'GPU')}: TP {plan.tensor_parallel} x DP {plan.data_parallel}"
        f"{', expert parallel' if plan.expert_parallel else ''}"
    )
    print(shlex.join(plan.argv))
    return 0


def _up(args: argparse.Namespace) -> int:
    plan = _plan(args)
    if plan is None:
        return 2
    print(shlex.join(plan.argv), file=sys.stderr)
    try:
        return subprocess.call(plan.argv)
    except FileNotFoundError:
        print("ogmux vllm up: `vllm` is not on PATH; install vLLM on the GPU host or use compose.yaml", file=sys.stderr)
        return 127


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("vllm", help="vLLM command lines for MoE models", description=__doc__)
    actions = parser.add_subparsers(dest="vllm_command", metavar="ACTION", required=True)
    for name, func, text in (("cmd", _cmd, "print the command line"), ("up", _up, "launch vLLM (GPU host)")):
        p = actions.add_parser(name, help=text)
        p.add_argument("preset", choices=sorted(PRESETS), help="MoE model preset")
        p.add_argument("--gpus", type=int, default=1, help="GPUs on this host (default 1)")
        p.add_argument("--gpu-mem-gb", type=float, default=80.0, help="memory per GPU in GB (default 80)")
        p.add_argument("--port", type=int, default=8000)
        p.add_argument("--host", default="0.0.0.0")
        p.add_argument("--max-model-len", type=int, default=None, help="override the preset's context length")
        p.set_defaults(func=func)
