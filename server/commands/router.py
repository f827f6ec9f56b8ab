"""`ogmux router train | calibrate | eval`: the quality predictor, cascade calibration and offline evaluation."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ogmux.router.calibration import CalibrationError, fit_threshold
from ogmux.router.offline_eval import (
    BENCHMARKS,
    LABELS,
    EvalDataError,
    evaluate_benchmark,
    load_benchmark,
    split_indices,
    train_predictor,
)
from ogmux.router.quality import QualityDataError, QualityPredictor

__all__ = ["register"]

_DATA_HELP = "folder of per-query outcomes (e.g. routellm_gpt4_mixtral with mmlu/, gsm8k/, mt_bench/)"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("router", help="train the quality predictor, calibrate the cascade, evaluate offline")
    router_sub = p.add_subparsers(dest="router_command", metavar="SUBCOMMAND", required=True)

    t = router_sub.add_parser("train", help="fit the local quality predictor on labelled outcomes")
    _common(t)
    t.add_argument(
        "--label",
        choices=LABELS,
        default="strong_wins",
        help="what the predictor learns (default strong_wins)",
    )
    t.add_argument(
        "--train-share",
        type=float,
        default=0.5,
        help="share of the benchmark used for training (1 = all; default 0.5, the rest is left for calibration)",
    )
    t.add_argument("-o", "--output", type=Path, required=True, help="predictor JSON file to write")
    t.set_defaults(func=run_train)

    c = router_sub.add_parser(
        "calibrate", help="fit the cascade's escalation threshold with a failure-rate guarantee"
    )
    _common(c)
    c.add_argument("--predictor", type=Path, required=True, help="predictor JSON from `ogmux router train`")
    c.add_argument(
        "--alpha", type=float, required=True, help="bound on the failure rate among non-escalated requests"
    )
    c.add_argument(
        "--delta", type=float, default=0.1, help="the bound holds with probability >= 1 - delta (default 0.1)"
    )
    c.add_argument("--budget", type=float, default=None, help="also bound the escalation rate by this share")
    c.add_argument("-o", "--output", type=Path, required=True, help="calibration JSON file to write")
    c.set_defaults(func=run_calibrate)

    e = router_sub.add_parser(
        "eval", help="RouteLLM-style offline evaluation (PGR curve, CPT, APGR, guarantee)"
    )
    _common(e)
    e.add_argument(
        "--alpha", type=float, default=0.1, help="cascade failure-rate bound checked (default 0.1)"
    )
    e.add_argument("--delta", type=float, default=0.1, help="cascade confidence parameter (default 0.1)")
    e.add_argument(
        "--splits", type=int, default=200, help="random calibration/test splits for the guarantee check"
    )
    e.add_argument(
        "--budget", type=float, default=None, help="also check an escalation budget (Calibrate-Then-Delegate)"
    )
    e.add_argument(
        "--repeats", type=int, default=0, help="extra random train/test splits for APGR mean and sd"
    )
    e.add_argument("--no-cross", action="store_true", help="skip routers trained on the other benchmarks")
    e.add_argument("--json", type=Path, default=None, help="write the full report as JSON here")
    e.set_defaults(func=run_eval)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True, help=_DATA_HELP)
    p.add_argument("--benchmark", choices=BENCHMARKS, required=True, help="which benchmark's outcomes to use")
    p.add_argument("--seed", type=int, default=0, help="random split seed (default 0)")


def _fail(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 2


def run_train(args: argparse.Namespace) -> int:
    try:
        data = load_benchmark(args.data, args.benchmark)
        if args.train_share != 1:
            data = data.subset(split_indices(len(data), args.seed, args.train_share)[0])
        predictor = train_predictor(data, args.label, args.seed)
    except (EvalDataError, QualityDataError) as exc:
        return _fail(exc)
    predictor.meta.update(seed=args.seed, train_share=args.train_share)
    predictor.save(args.output)
    print(
        f"trained on {len(data)} {args.benchmark} queries (label {args.label}, L2 {predictor.meta['reg']}) -> {args.output}"
    )
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    try:
        predictor = QualityPredictor.load(args.predictor)
        data = load_benchmark(args.data, args.benchmark)
        meta = predictor.meta
        held_out = meta.get("benchmark") == args.benchmark and meta.get("train_share", 1) != 1
        if held_out:
            data = data.subset(
                split_indices(len(data), int(meta.get("seed", 0)), float(meta["train_share"]))[1]
            )
        scores = predictor.predict_batch(data.prompts)
        source = f"{args.benchmark}: {len(data)} queries" + (
            " held out from the predictor's training split" if held_out else ""
        )
        calibration = fit_threshold(
            scores,
            data.weak_failed,
            args.alpha,
            args.delta,
            budget=args.budget,
            signal=f"predictor:{args.predictor.name}",
            source=source,
            predictor_sha256=predictor.fingerprint(),
        )
    except (EvalDataError, QualityDataError, CalibrationError) as exc:
        return _fail(exc)
    if not held_out and meta.get("benchmark") == args.benchmark:
        print(
            "warning: the predictor was trained on all of this benchmark; calibrate on data it has not seen",
            file=sys.stderr,
        )
    calibration.save(args.output)
    where = (
        "escalate every request"
        if calibration.threshold is None
        else f"escalate when score >= {calibration.threshold:.4f}"
    )
    print(
        f"{where}; calibration escalation rate {calibration.calib_escalation_rate:.3f}; "
        f"failure rate among non-escalated <= {args.alpha} with probability >= {1 - args.delta} -> {args.output}"
    )
    return 0


def run_eval(args: argparse.Namespace) -> int:
    try:
        report = evaluate_benchmark(
            args.data,
            args.benchmark,
            seed=args.seed,
            alpha=args.alpha,
            delta=args.delta,
            splits=args.splits,
            repeats=args.repeats,
            budget=args.budget,
            cross=not args.no_cross,
        )
    except (EvalDataError, QualityDataError, CalibrationError) as exc:
        return _fail(exc)
    rows = [("router (in-domain)", report.router)] + [
        (f"baseline {k}", v) for k, v in report.baselines.items()
    ]
    rows += [(f"router trained on {k}", v) for k, v in report.cross_benchmark.items()]
    print(
        f"{report.benchmark}: train {report.n_train}, test {report.n_test}; weak {report.weak_score:.4f}, strong {report.strong_score:.4f}"
    )
    print(f"{'':28} {'APGR':>7} {'CPT50':>7} {'CPT80':>7}")
    for name, s in rows:
        print(f"{name:28} {s.apgr:7.3f} {s.cpt50:7.2%} {s.cpt80:7.2%}")
    g = report.guarantee
    print(
        f"cascade alpha={g.alpha} delta={g.delta}: violations in {g.violation_share:.3f} of {g.splits} splits "
        f"({g.population_violation_share:.3f} against the pool), "
        f"strong calls {g.strong_call_share:.3f}, failure rate kept {g.mean_failure_rate:.3f} (weak alone {g.weak_failure_rate:.3f})"
    )
    if report.budget_check is not None:
        b = report.budget_check
        print(
            f"budget {b.budget}: over budget in {b.violation_share:.3f} of {b.splits} splits "
            f"({b.population_violation_share:.3f} against the pool), "
            f"strong calls {b.strong_call_share:.3f}, failure rate kept {b.mean_failure_rate:.3f}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.model_dump(mode="json"), indent=2), encoding="utf-8")
    return 0
