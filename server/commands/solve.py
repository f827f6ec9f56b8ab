"""`ogmux solve milp | analyze | surrogate | train`: the solver capability from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import BaseModel, ValidationError

from ogmux.server.cliutil import add_config_argument, file_error, settings_from_args
from ogmux.tools.solver import (
    LinearModel,
    OutputObjective,
    SolveLimits,
    SolverError,
    analyze_network,
    load_network_file,
    optimize_surrogate,
    parse_bounds,
    save_onnx,
    solve_milp,
    solve_milp_file,
)

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("solve", help="exact LP/MILP solving, ReLU network analysis and optimization, surrogate training")
    solve_sub = p.add_subparsers(dest="solve_command", metavar="SUBCOMMAND", required=True)

    m = solve_sub.add_parser("milp", help="solve an LP/MILP file (.json LinearModel, .mps or .lp)")
    m.add_argument("file", type=Path)
    m.add_argument("--json", type=Path, default=None, help="write the full result as JSON to this file")
    add_config_argument(m)
    _limits(m)
    m.set_defaults(func=run_milp)

    a = solve_sub.add_parser("analyze", help="bounds, neuron stability and LP relaxation of a ReLU network")
    _network(a)
    a.add_argument(
        "--output", type=int, default=0, help="output used for the LP relaxation bound (default 0)"
    )
    a.add_argument("--maximize", action="store_true", help="bound the maximum instead of the minimum")
    a.set_defaults(func=run_analyze)

    s = solve_sub.add_parser("surrogate", help="globally minimize or maximize a ReLU network output")
    _network(s)
    goal = s.add_mutually_exclusive_group(required=True)
    goal.add_argument("--minimize", type=int, metavar="OUTPUT", help="output index to minimize")
    goal.add_argument("--maximize", type=int, metavar="OUTPUT", help="output index to maximize")
    _limits(s)
    s.set_defaults(func=run_surrogate)

    t = solve_sub.add_parser(
        "train", help="train a tractable ReLU surrogate of a benchmark function (needs torch)"
    )
    t.add_argument("function", choices=["peaks", "himmelblau", "ackley"])
    t.add_argument("--depth", type=int, default=2, help="hidden layers (default 2)")
    t.add_argument("--width", type=int, default=25, help="neurons per hidden layer (default 25)")
    t.add_argument("--reg", default="none", choices=["none", "l1", "l2", "bw", "sn", "lp", "bw+lp"])
    t.add_argument("--lam", type=float, default=1e-3, help="regularizer weight (default 1e-3)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--epochs", type=int, default=100)
    t.add_argument("--samples", type=int, default=4000, help="Latin-hypercube training points (default 4000)")
    t.add_argument(
        "--val-samples",
        type=int,
        default=0,
        help="Latin-hypercube validation points; the epoch with the lowest validation MSE is kept (default 0: "
        "the last epoch)",
    )
    t.add_argument(
        "--protocol",
        choices=["ogmux", "paper"],
        default="ogmux",
        help="ogmux: PyTorch's initialization, standardized targets; paper: the seed paper's initialization "
        "(Kaiming-normal, zero biases) and min-max targets, where --lam means the paper's lambda",
    )
    t.add_argument("-o", "--output", type=Path, required=True, help="ONNX file to write")
    t.add_argument("--json", type=Path, default=None, help="also write the training report as JSON")
    t.set_defaults(func=run_train)


def _network(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "network", type=Path, help="network file: .onnx, .json (inline spec) or .pt/.pth (state dict)"
    )
    p.add_argument("--bounds", required=True, help='bounds of every input, e.g. "x0=-2:2,x1=-2:2"')
    p.add_argument(
        "--tightening", choices=["lp", "interval"], default="lp", help="bound tightening (default lp)"
    )
    p.add_argument("--json", type=Path, default=None, help="write the full result as JSON to this file")
    add_config_argument(p)


def _seconds(text: str) -> float:
    """An argparse type: a time limit in seconds, above 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a time limit: give seconds above 0, e.g. 60")
    return value


def _gap(text: str) -> float:
    """An argparse type: a relative MIP gap from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a relative gap: give a number from 0 to 1, e.g. 1e-4")
    return value


def _limits(p: argparse.ArgumentParser) -> None:
    p.add_argument("--time-limit", type=_seconds, default=None, help="seconds (default: solver.default_time_s)")
    p.add_argument("--gap", type=_gap, default=1e-4, help="relative MIP gap (default 1e-4)")


def _emit(result: BaseModel, text: str, out: Path | None) -> None:
    if out is not None:
        out.write_text(result.model_dump_json(indent=1), encoding="utf-8")
    print(text)


def _fail(exc: Exception, what: str = "") -> int:
    """Print `exc` as one line (a validation error as its fields and reasons) and return exit status 2."""
    if isinstance(exc, ValidationError):
        fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in exc.errors()[:5])
        print(f"error: {what or 'invalid input'}: {fields}", file=sys.stderr)
    elif isinstance(exc, OSError) and exc.filename:
        print(f"error: {file_error(exc)}", file=sys.stderr)
    else:
        print(f"error: {exc}", file=sys.stderr)
    return 2


def run_milp(args: argparse.Namespace) -> int:
    config = settings_from_args(args).solver
    limits = SolveLimits(time_limit_s=args.time_limit, mip_rel_gap=args.gap)
    try:
        if args.file.suffix.lower() == ".json":
            model = LinearModel.model_validate_json(args.file.read_text(encoding="utf-8"))
            result = solve_milp(model, limits, config)
        else:
            result = solve_milp_file(args.file, limits, config)
    except (SolverError, ValidationError, OSError) as exc:
        return _fail(exc, f"{args.file} is not a LinearModel (docs/solver.md describes it)")
    from ogmux.server.mcp_tools.solve_milp import render

    _emit(result, render(result), args.json)
    return 0 if result.solution_kind != "none" else 1


def run_analyze(args: argparse.Namespace) -> int:
    config = settings_from_args(args).solver
    try:
        net = load_network_file(args.network)
        bounds = parse_bounds(args.bounds, net.n_inputs)
        objective = OutputObjective(sense="maximize" if args.maximize else "minimize", output=args.output)
        result = analyze_network(net, bounds, objective, args.tightening, config=config)
    except SolverError as exc:
        return _fail(exc)
    from ogmux.server.mcp_tools.analyze_network import render

    note = f"in {args.json}" if args.json is not None else "add --json FILE to write them"
    _emit(result, render(result, bounds_note=note), args.json)
    return 0


def run_surrogate(args: argparse.Namespace) -> int:
    config = settings_from_args(args).solver
    sense, output = ("maximize", args.maximize) if args.maximize is not None else ("minimize", args.minimize)
    try:
        net = load_network_file(args.network)
        bounds = parse_bounds(args.bounds, net.n_inputs)
        result = optimize_surrogate(
            net,
            bounds,
            OutputObjective(sense=sense, output=output),
            [],
            SolveLimits(time_limit_s=args.time_limit, mip_rel_gap=args.gap),
            args.tightening,
            config=config,
        )
    except SolverError as exc:
        return _fail(exc)
    from ogmux.server.mcp_tools.optimize_surrogate import render

    _emit(result, render(result), args.json)
    return 0 if result.solution_kind != "none" else 1


def run_train(args: argparse.Namespace) -> int:
    from ogmux.tools.solver.training import TrainConfig, train_surrogate

    if not args.output.parent.is_dir():  # before minutes of training
        return _fail(OSError(f"cannot write {args.output}: no directory {args.output.parent}"))
    try:
        cfg = TrainConfig(
            function=args.function,
            depth=args.depth,
            width=args.width,
            reg=args.reg,
            lam=args.lam,
            seed=args.seed,
            epochs=args.epochs,
            samples=args.samples,
            val_samples=args.val_samples,
            init="paper" if args.protocol == "paper" else "torch",
            target_scaling="minmax" if args.protocol == "paper" else "standard",
        )
        net, report = train_surrogate(cfg)
    except (SolverError, ValidationError) as exc:
        return _fail(exc, "invalid training settings")
    try:
        save_onnx(net, args.output)
    except OSError as exc:
        return _fail(OSError(f"cannot write {args.output}: {exc.strerror or exc}"))
    if args.json is not None:
        args.json.write_text(report.model_dump_json(indent=1), encoding="utf-8")
    print(
        json.dumps(
            {
                "output": str(args.output),
                "test_mse": report.test_mse,
                "train_mse": report.train_mse,
                "val_mse": report.val_mse,
                "best_epoch": report.best_epoch,
                "train_time_s": round(report.train_time_s, 2),
                "lp_solves": report.lp_solves,
            }
        )
    )
    return 0
