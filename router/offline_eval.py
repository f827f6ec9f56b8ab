"""Offline evaluation of routers on per-query outcome data, computed as RouteLLM's evaluation code does.

RouteLLM (lm-sys/RouteLLM, routellm/evals/benchmarks.py and evaluate.py) sweeps thresholds at the
11 edges of `pd.qcut(scores, 10)`: edge i routes to the strong model when score >= edge (the last
edge uses score > edge, giving 0% strong calls). Each point is (strong-call share, benchmark score).
CPT(x) = np.interp(weak + x (strong - weak), scores sorted by strong share, strong shares);
APGR = (trapz(score) - trapz(weak)) / (trapz(strong) - trapz(weak)) over the strong share in [0, 1].
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ogmux.router.calibration import Calibration, fit_budget_threshold, fit_threshold
from ogmux.router.quality import QualityPredictor
from ogmux.router.tokens import count_tokens

__all__ = [
    "BENCHMARKS",
    "LABELS",
    "STRONG_MODEL",
    "WEAK_MODEL",
    "BenchmarkData",
    "BudgetCheck",
    "EvalDataError",
    "EvalReport",
    "GuaranteeCheck",
    "RouterMetrics",
    "RoutingPoint",
    "Summary",
    "apgr",
    "check_budget",
    "check_guarantee",
    "cpt",
    "evaluate_benchmark",
    "load_benchmark",
    "route_metrics",
    "routing_curve",
    "split_indices",
    "train_predictor",
]

BENCHMARKS = ("mmlu", "gsm8k", "mt_bench")
LABELS = ("strong_wins", "weak_failed")
STRONG_MODEL = "gpt-4-1106-preview"
WEAK_MODEL = "mistralai/Mixtral-8x7B-Instruct-v0.1"


class EvalDataError(ValueError):
    """The evaluation data or arguments are not usable; the message says why and how to fix it."""


@dataclass(frozen=True)
class BenchmarkData:
    """Per-query outcomes: the routed prompt and each model's score on it (1/0 correctness, or judge score)."""

    name: str
    prompts: list[str]
    weak: np.ndarray
    strong: np.ndarray

    @property
    def weak_failed(self) -> np.ndarray:
        """1 where the weak model did worse than the strong one would have (correctness: weak wrong)."""
        if self.name == "mt_bench":
            return (self.weak < self.strong).astype(int)
        return (self.weak < 1).astype(int)

    @property
    def strong_wins(self) -> np.ndarray:
        """1 where the strong model did better than the weak one (the strong call pays off)."""
        return (self.strong > self.weak).astype(int)

    def labels(self, label: str) -> np.ndarray:
        """The 0/1 training label `label` ("strong_wins" or "weak_failed")."""
        if label not in LABELS:
            raise EvalDataError(f"unknown label {label!r}: choose one of {', '.join(LABELS)}")
        return self.strong_wins if label == "strong_wins" else self.weak_failed

    def subset(self, idx: np.ndarray) -> BenchmarkData:
        """The queries at positions `idx`."""
        return BenchmarkData(self.name, [self.prompts[i] for i in idx], self.weak[idx], self.strong[idx])

    def __len__(self) -> int:
        return len(self.prompts)


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise EvalDataError(f"missing file {path}: point --data at the routellm_gpt4_mixtral folder")
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _contaminated(path: Path) -> set[str]:
    return {row["eval_prompt"] for row in _read_jsonl(path)}


def _bool_column(rows: list[dict], column: str, path: Path) -> np.ndarray:
    values = []
    for row in rows:
        v = row.get(column)
        if v not in ("True", "False"):
            raise EvalDataError(f"{path}: column {column!r} must hold True/False, found {v!r}")
        values.append(v == "True")
    return np.array(values, dtype=float)


def _read_correctness_csv(
    paths: Sequence[Path], contaminated: set[str]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    csv.field_size_limit(sys.maxsize)
    prompts: list[str] = []
    weak: list[np.ndarray] = []
    strong: list[np.ndarray] = []
    for path in paths:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = {"prompt", WEAK_MODEL, STRONG_MODEL} - set(reader.fieldnames or ())
            if missing:
                raise EvalDataError(f"{path} lacks column(s) {sorted(missing)}")
            rows = [r for r in reader if r["prompt"] not in contaminated]
        prompts += [r["prompt"] for r in rows]
        weak.append(_bool_column(rows, WEAK_MODEL, path))
        strong.append(_bool_column(rows, STRONG_MODEL, path))
    return prompts, np.concatenate(weak), np.concatenate(strong)


def _load_mt_bench(root: Path) -> BenchmarkData:
    contaminated = _contaminated(root / "contaminated_prompts.jsonl")
    questions = [
        q
        for q in _read_jsonl(root / "question.jsonl")
        if q["turns"][0] not in contaminated and q["turns"][1] not in contaminated
    ]
    scores: dict[tuple[int, str], list[float]] = {}
    for j in _read_jsonl(root / "judgements.jsonl"):
        scores.setdefault((j["question_id"], j["model"]), []).append(float(j["score"]))
    weak, strong = [], []
    for q in questions:
        for model, out in ((WEAK_MODEL, weak), (STRONG_MODEL, strong)):
            turns = scores.get((q["question_id"], model), [])
            if len(turns) != 2:
                raise EvalDataError(
                    f"MT-Bench question {q['question_id']} has {len(turns)} judgements of {model}, expected 2"
                )
            out.append(float(np.mean(turns)))
    # RouteLLM routes MT-Bench on the first turn only.
    return BenchmarkData("mt_bench", [q["turns"][0] for q in questions], np.array(weak), np.array(strong))


def load_benchmark(data_dir: str | Path, name: str) -> BenchmarkData:
    """Load one benchmark of the RouteLLM GPT-4/Mixtral data, dropping RouteLLM's contaminated prompts."""
    if name not in BENCHMARKS:
        raise EvalDataError(f"unknown benchmark {name!r}: choose one of {', '.join(BENCHMARKS)}")
    root = Path(data_dir)
    if not root.is_dir():
        raise EvalDataError(f"no data folder {root}: point --data at the routellm_gpt4_mixtral folder")
    if name == "mt_bench":
        data = _load_mt_bench(root / "mt_bench")
    elif name == "gsm8k":
        path = root / "gsm8k" / "gsm8k_responses.csv"
        if not path.is_file():
            raise EvalDataError(f"missing file {path}: point --data at the routellm_gpt4_mixtral folder")
        data = BenchmarkData(
            name, *_read_correctness_csv([path], _contaminated(root / "gsm8k" / "contaminated_prompts.jsonl"))
        )
    else:
        paths = sorted((root / "mmlu" / "responses").glob("mmlu_*.csv"))
        if not paths:
            raise EvalDataError(f"no mmlu_*.csv files under {root / 'mmlu' / 'responses'}")
        data = BenchmarkData(
            name, *_read_correctness_csv(paths, _contaminated(root / "mmlu" / "contaminated_prompts.jsonl"))
        )
    if len(data) == 0:
        raise EvalDataError(f"benchmark {name} has no queries in {root}")
    return data


class RoutingPoint(BaseModel):
    """One point of a routing curve."""

    model_config = ConfigDict(extra="forbid")

    threshold: float
    strong_share: float = Field(ge=0, le=1)
    score: float
    pgr: float


class RouterMetrics(BaseModel):
    """RouteLLM's summary of a routing curve (shares are fractions in [0, 1])."""

    model_config = ConfigDict(extra="forbid")

    apgr: float
    cpt50: float = Field(ge=0, le=1)
    cpt80: float = Field(ge=0, le=1)
    curve: list[RoutingPoint]


def _check_outcomes(scores: np.ndarray, weak: np.ndarray, strong: np.ndarray) -> None:
    if len(scores) == 0:
        raise EvalDataError("no queries to evaluate")
    if not (scores.shape == weak.shape == strong.shape) or scores.ndim != 1:
        raise EvalDataError(
            f"scores {scores.shape}, weak {weak.shape} and strong {strong.shape} must be 1-D of one length"
        )
    if not np.isfinite(scores).all():
        raise EvalDataError("router scores must be finite numbers")


def routing_curve(
    scores: Sequence[float], weak: Sequence[float], strong: Sequence[float], num_results: int = 10
) -> list[tuple[float, float, float]]:
    """(threshold, strong-call share, mean score) at RouteLLM's `num_results + 1` quantile thresholds."""
    s = np.asarray(scores, dtype=float)
    w = np.asarray(weak, dtype=float)
    g = np.asarray(strong, dtype=float)
    _check_outcomes(s, w, g)
    thresholds = np.quantile(s, np.linspace(0, 1, num_results + 1))
    points = []
    for i, t in enumerate(thresholds):
        chosen = s >= t if i != len(thresholds) - 1 else s > t
        points.append((float(t), float(chosen.mean()), float(np.where(chosen, g, w).mean())))
    return points


def cpt(
    points: Sequence[tuple[float, float, float]], weak_score: float, strong_score: float, fraction: float
) -> float:
    """Strong-call share needed to reach `fraction` of the weak-to-strong gap (RouteLLM's np.interp)."""
    ordered = sorted(points, key=lambda p: p[1])
    target = weak_score + fraction * (strong_score - weak_score)
    return float(np.interp(target, [p[2] for p in ordered], [p[1] for p in ordered]))


def apgr(points: Sequence[tuple[float, float, float]], weak_score: float, strong_score: float) -> float:
    """Average performance gap recovered: trapezoid area of the curve between the weak and strong lines."""
    ordered = sorted(points, key=lambda p: p[1])
    x = np.array([p[1] for p in ordered])
    area = float(np.trapezoid([p[2] for p in ordered], x))
    weak_area = float(np.trapezoid(np.full(len(x), weak_score), x))
    strong_area = float(np.trapezoid(np.full(len(x), strong_score), x))
    if strong_area == weak_area:
        raise EvalDataError("the strong and weak models score the same here, so PGR is undefined")
    return (area - weak_area) / (strong_area - weak_area)


def route_metrics(scores: Sequence[float], data: BenchmarkData, num_results: int = 10) -> RouterMetrics:
    """APGR, CPT(50%), CPT(80%) and the PGR curve of router `scores` (higher = strong) on `data`."""
    points = routing_curve(scores, data.weak, data.strong, num_results)
    weak_score, strong_score = float(data.weak.mean()), float(data.strong.mean())
    gap = strong_score - weak_score
    return RouterMetrics(
        apgr=apgr(points, weak_score, strong_score),
        cpt50=cpt(points, weak_score, strong_score, 0.5),
        cpt80=cpt(points, weak_score, strong_score, 0.8),
        curve=[
            RoutingPoint(
                threshold=t, strong_share=share, score=score, pgr=(score - weak_score) / gap if gap else 0.0
            )
            for t, share, score in points
        ],
    )


class GuaranteeCheck(BaseModel):
    """The cascade guarantee over repeated random calibration/test splits."""

    model_config = ConfigDict(extra="forbid")

    alpha: float
    delta: float
    splits: int
    violation_share: float = Field(
        ge=0,
        le=1,
        description="share of splits whose test failure rate among non-escalated requests exceeds alpha",
    )
    population_violation_share: float = Field(
        ge=0,
        le=1,
        description="share of bootstrap worlds (population = the held-out pool) whose failure rate exceeds alpha",
    )
    strong_call_share: float = Field(
        ge=0, le=1, description="mean share of test requests escalated to the strong model"
    )
    mean_failure_rate: float = Field(
        ge=0, le=1, description="mean test failure rate among non-escalated requests"
    )
    weak_failure_rate: float = Field(ge=0, le=1, description="failure rate if nothing were escalated")
    n_calibration: int
    n_test: int


class BudgetCheck(BaseModel):
    """The Calibrate-Then-Delegate escalation budget over repeated random calibration/test splits."""

    model_config = ConfigDict(extra="forbid")

    budget: float
    delta: float
    splits: int
    violation_share: float = Field(
        ge=0, le=1, description="share of splits whose test escalation rate exceeds the budget"
    )
    population_violation_share: float = Field(
        ge=0,
        le=1,
        description="share of bootstrap worlds whose escalation rate on the pool exceeds the budget",
    )
    strong_call_share: float = Field(ge=0, le=1, description="mean share of test requests escalated")
    mean_failure_rate: float = Field(
        ge=0, le=1, description="mean test failure rate among non-escalated requests"
    )


class Summary(BaseModel):
    """APGR and CPT values without the curve."""

    model_config = ConfigDict(extra="forbid")

    apgr: float
    cpt50: float
    cpt80: float


class EvalReport(BaseModel):
    """Offline evaluation of the quality-predictor router on one benchmark."""

    model_config = ConfigDict(extra="forbid")

    benchmark: str
    seed: int
    n_train: int
    n_test: int
    weak_score: float
    strong_score: float
    router: Summary
    baselines: dict[str, Summary]
    curves: dict[str, list[RoutingPoint]]
    cross_benchmark: dict[str, Summary] = Field(
        description="router trained on the named benchmark(s) only, tested on the same test split"
    )
    repeats: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="mean and sd of APGR over extra random splits"
    )
    guarantee: GuaranteeCheck
    guarantee_sweep: list[GuaranteeCheck] = Field(
        default_factory=list, description="the same check at other alphas"
    )
    budget_check: BudgetCheck | None = None


def split_indices(n: int, seed: int, train_share: float) -> tuple[np.ndarray, np.ndarray]:
    """A random (train, rest) split of range(n); both parts non-empty."""
    if not 0 < train_share < 1:
        raise EvalDataError(f"train share must be in (0, 1), got {train_share}")
    if n < 2:
        raise EvalDataError(f"{n} queries cannot be split into training and test parts")
    order = np.random.default_rng(seed).permutation(n)
    cut = min(max(round(n * train_share), 1), n - 1)
    return np.sort(order[:cut]), np.sort(order[cut:])


def train_predictor(
    data: BenchmarkData, label: str = "strong_wins", seed: int = 0, neighbors: int = 30
) -> QualityPredictor:
    """A quality predictor fitted on `data`, with labels smoothed over up to `neighbors` similar prompts.

    Label "strong_wins" (the strong model beats the weak one) ranks queries by the gain of a strong
    call and suits routing; "weak_failed" estimates the weak model's failure and suits the cascade.
    The neighbourhood is capped at a tenth of the training set.
    """
    k = min(neighbors, len(data) // 10)
    predictor = QualityPredictor().fit(data.prompts, data.labels(label), seed=seed, neighbors=k)
    predictor.meta.update(benchmark=data.name, label=label)
    return predictor


def threshold_grid(train_scores: np.ndarray, size: int = 200) -> np.ndarray:
    """Candidate thresholds from quantiles of training-set scores (independent of the calibration data)."""
    return np.unique(np.append(np.quantile(train_scores, np.arange(1, size) / size), 1.0))


def _kept_failure_rate(weak_failed: np.ndarray, escalated: np.ndarray) -> float:
    kept = ~escalated
    return float(weak_failed[kept].mean()) if kept.any() else 0.0


def _split_worlds(
    scores: np.ndarray, splits: int, seed: int, fit: Callable[[np.ndarray], Calibration]
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per split: the test half, its escalations under a fit on the other half, and the whole
    pool's escalations under a fit on a bootstrap half (`fit` takes the calibration indices)."""
    n = len(scores)
    if n < 4:
        raise EvalDataError(f"{n} held-out queries are too few for calibration/test splits")
    rng = np.random.default_rng(seed)
    half = n // 2
    for _ in range(splits):
        order = rng.permutation(n)
        cal, test = order[:half], order[half:]
        escalated = fit(cal).escalate_many(scores[test])
        boot = rng.integers(0, n, half)
        yield test, escalated, fit(boot).escalate_many(scores)


def check_guarantee(
    scores: np.ndarray,
    weak_failed: np.ndarray,
    *,
    alpha: float,
    delta: float,
    splits: int,
    seed: int,
    grid: np.ndarray | None = None,
) -> GuaranteeCheck:
    """Calibrate on a random half and test on the other half, `splits` times.

    Also runs the same number of bootstrap worlds whose population is the whole held-out pool:
    calibration draws i.i.d. from it and the failure rate is that of the pool itself, which
    is exactly what the guarantee speaks of (no test-set sampling noise).
    """
    violations = population_violations = 0
    strong_shares, failure_rates = [], []
    fit = lambda idx: fit_threshold(scores[idx], weak_failed[idx], alpha, delta, grid=grid)
    for test, escalated, pool in _split_worlds(scores, splits, seed, fit):
        rate = _kept_failure_rate(weak_failed[test], escalated)
        violations += rate > alpha
        strong_shares.append(float(escalated.mean()))
        failure_rates.append(rate)
        population_violations += _kept_failure_rate(weak_failed, pool) > alpha
    n = len(scores)
    return GuaranteeCheck(
        alpha=alpha,
        delta=delta,
        splits=splits,
        violation_share=violations / splits,
        population_violation_share=population_violations / splits,
        strong_call_share=float(np.mean(strong_shares)),
        mean_failure_rate=float(np.mean(failure_rates)),
        weak_failure_rate=float(weak_failed.mean()),
        n_calibration=n // 2,
        n_test=n - n // 2,
    )


def check_budget(
    scores: np.ndarray,
    weak_failed: np.ndarray,
    *,
    budget: float,
    delta: float,
    splits: int,
    seed: int,
    grid: np.ndarray | None = None,
) -> BudgetCheck:
    """Calibrate an escalation budget on a random half and test on the other half, `splits` times
    (plus bootstrap worlds as in `check_guarantee`)."""
    violations = population_violations = 0
    shares, failure_rates = [], []
    fit = lambda idx: fit_budget_threshold(scores[idx], budget, delta, grid=grid)
    for test, escalated, pool in _split_worlds(scores, splits, seed, fit):
        violations += escalated.mean() > budget
        shares.append(float(escalated.mean()))
        failure_rates.append(_kept_failure_rate(weak_failed[test], escalated))
        population_violations += pool.mean() > budget
    return BudgetCheck(
        budget=budget,
        delta=delta,
        splits=splits,
        violation_share=violations / splits,
        population_violation_share=population_violations / splits,
        strong_call_share=float(np.mean(shares)),
        mean_failure_rate=float(np.mean(failure_rates)),
    )


def _summary(metrics: RouterMetrics) -> Summary:
    return Summary(apgr=metrics.apgr, cpt50=metrics.cpt50, cpt80=metrics.cpt80)


def _length_scores(prompts: Sequence[str]) -> np.ndarray:
    return np.array([count_tokens(p) for p in prompts], dtype=float)


def evaluate_benchmark(
    data_dir: str | Path,
    benchmark: str,
    *,
    seed: int = 0,
    train_share: float = 0.5,
    alpha: float = 0.1,
    delta: float = 0.1,
    splits: int = 200,
    repeats: int = 0,
    more_alphas: Sequence[float] = (),
    budget: float | None = None,
    cross: bool = True,
    cross_cache: dict[str, QualityPredictor] | None = None,
) -> EvalReport:
    """Train on a random split, test on the rest; baselines, cross-benchmark routers and the cascade guarantee.

    The router is trained on "strong_wins"; the cascade's signal on "weak_failed" from the same
    training split, and is calibrated and tested on random halves of the test split.
    `cross_cache` keeps routers trained on whole other benchmarks between calls.
    """
    if splits < 1:
        raise EvalDataError(f"splits must be at least 1, got {splits}")
    data = load_benchmark(data_dir, benchmark)
    train_idx, test_idx = split_indices(len(data), seed, train_share)
    train, test = data.subset(train_idx), data.subset(test_idx)
    scores = train_predictor(train, "strong_wins", seed).predict_batch(test.prompts)
    metrics = {
        "router": route_metrics(scores, test),
        "random": route_metrics(np.random.default_rng(seed).random(len(test)), test),
        "prompt_length": route_metrics(_length_scores(test.prompts), test),
    }
    cross_results: dict[str, Summary] = {}
    if cross:
        cache = {} if cross_cache is None else cross_cache
        others = [b for b in BENCHMARKS if b != benchmark]
        for other in others:
            if other not in cache:
                cache[other] = train_predictor(load_benchmark(data_dir, other), "strong_wins", seed)
            cross_results[other] = _summary(route_metrics(cache[other].predict_batch(test.prompts), test))
    repeat_stats: dict[str, dict[str, float]] = {}
    if repeats > 0:
        values: dict[str, list[float]] = {"router": [], "prompt_length": [], "random": []}
        for r in range(1, repeats + 1):
            tr_idx, te_idx = split_indices(len(data), seed + r, train_share)
            tr, te = data.subset(tr_idx), data.subset(te_idx)
            values["router"].append(
                route_metrics(train_predictor(tr, "strong_wins", seed + r).predict_batch(te.prompts), te).apgr
            )
            values["prompt_length"].append(route_metrics(_length_scores(te.prompts), te).apgr)
            values["random"].append(route_metrics(np.random.default_rng(seed + r).random(len(te)), te).apgr)
        repeat_stats = {
            name: {
                "apgr_mean": float(np.mean(v)),
                "apgr_sd": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
                "runs": len(v),
            }
            for name, v in values.items()
        }
    cascade = train_predictor(train, "weak_failed", seed)
    cascade_scores = cascade.predict_batch(test.prompts)
    grid = threshold_grid(cascade.predict_batch(train.prompts))
    checks = [
        check_guarantee(
            cascade_scores, test.weak_failed, alpha=a, delta=delta, splits=splits, seed=seed, grid=grid
        )
        for a in (alpha, *more_alphas)
    ]
    return EvalReport(
        benchmark=benchmark,
        seed=seed,
        n_train=len(train),
        n_test=len(test),
        weak_score=float(test.weak.mean()),
        strong_score=float(test.strong.mean()),
        router=_summary(metrics["router"]),
        baselines={
            "random": _summary(metrics["random"]),
            "prompt_length": _summary(metrics["prompt_length"]),
        },
        curves={name: m.curve for name, m in metrics.items()},
        cross_benchmark=cross_results,
        repeats=repeat_stats,
        guarantee=checks[0],
        guarantee_sweep=checks[1:],
        budget_check=None
        if budget is None
        else check_budget(
            cascade_scores, test.weak_failed, budget=budget, delta=delta, splits=splits, seed=seed, grid=grid
        ),
    )
