"""Routing policies: hard filters, then one selection policy (static, cost_quality, cascade, load).

Every candidate is a (model, replica) pair with one score:
    expected quality − estimated cost / willing_to_pay − latency_weight × predicted latency,
where expected quality = 1 − p·(1 − quality) with p the predictor's probability that the
strong model is needed (p unknown → the model's prior quality). Non-load policies pick the
model by their own rule and then the replica with the lowest predicted latency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ogmux.router.accounting import cost_usd
from ogmux.router.calibration import Calibration
from ogmux.router.config import BackendConfig, RouterConfig
from ogmux.router.errors import (
    BackendUnavailableError,
    BudgetExceededError,
    NoCandidateError,
    UnknownModelError,
)
from ogmux.router.pool import Pool, Replica
from ogmux.router.types import CandidateScore, ChatRequest, FilterResult, Guarantee

__all__ = ["Predictor", "RouteInput", "Selection", "apply_filters", "select"]

_AFFINITY_SPEEDUP = 0.8


class Predictor(Protocol):
    def predict(self, prompt: str) -> float: ...


@dataclass
class RouteInput:
    request: ChatRequest
    role: str
    prompt_tokens: int
    remaining_budget_usd: float | None
    principal: str = ""


@dataclass
class Selection:
    candidates: list[CandidateScore]
    model: str
    replica: str
    reason: str
    predictor_score: float | None = None
    guarantee: Guarantee | None = None


def est_cost(b: BackendConfig, inp: RouteInput) -> float:
    """Upper-bound cost: the whole prompt plus max_tokens for each of the n choices."""
    return cost_usd(b, inp.prompt_tokens, inp.request.max_tokens * inp.request.n)


def apply_filters(config: RouterConfig, pool: Pool, inp: RouteInput) -> tuple[list[BackendConfig], list[FilterResult]]:
    """Remove models that cannot serve the request; raise a typed error naming every reason when none is left."""
    req = inp.request
    backends = list(config.backends)
    if not backends:
        raise NoCandidateError("no backends are configured: add [[router.backends]] entries to ogmux.toml")
    filters: list[FilterResult] = []

    def step(name: str, reason_of) -> None:
        nonlocal backends
        removed = {b.name: r for b in backends if (r := reason_of(b))}
        filters.append(FilterResult(name=name, removed=removed))
        backends = [b for b in backends if b.name not in removed]

    if req.model is not None:
        known = [b.name for b in config.backends]
        if req.model not in known:
            raise UnknownModelError(f"unknown model {req.model!r}; configured models: {known}")
        step("requested_model", lambda b: "" if b.name == req.model else f"request asked for {req.model!r}")
    local_only = req.local_only or config.local_only or inp.role in config.local_only_roles
    if local_only:
        step("privacy", lambda b: "" if b.privacy == "local" else "hosted backend; request is local-only")
    need = req.needs()

    def caps(b: BackendConfig) -> str:
        missing = sorted(need - set(b.capabilities))
        if missing:
            return f"lacks {', '.join(missing)}"
        return "no n > 1 on the Anthropic API" if b.kind == "anthropic" and req.n > 1 else ""

    step("capabilities", caps)

    def fits(b: BackendConfig) -> str:
        ctx = pool.context_length(b)
        total = inp.prompt_tokens + req.max_tokens
        return f"needs {inp.prompt_tokens}+{req.max_tokens}={total} tokens > context {ctx}" if ctx and total > ctx else ""

    step("context_fit", fits)
    if inp.remaining_budget_usd is not None:
        left = inp.remaining_budget_usd
        step(
            "budget",
            lambda b: f"est. ${est_cost(b, inp):.6f} > ${left:.6f} left of the role's budget (running calls hold"
            " their estimate)" if est_cost(b, inp) > left else "",
        )
    if not backends:
        reasons = "; ".join(f"{m}: {r}" for f in filters for m, r in f.removed.items())
        err = BudgetExceededError if filters[-1].name == "budget" and filters[-1].removed else NoCandidateError
        raise err(f"no model can serve this request ({reasons})")

    def health(b: BackendConfig) -> str:
        reps = pool.replicas[b.name]
        if any(r.available() for r in reps):
            return ""
        return "; ".join(f"{r.url}: {r.breaker.state} {r.breaker.last_error or r.health_error}".strip() for r in reps)

    step("health", health)
    if not backends:
        reasons = "; ".join(f"{m}: {r}" for m, r in filters[-1].removed.items())
        raise BackendUnavailableError(f"every replica of every eligible model is down ({reasons}); retry later")
    return backends, filters


def _expected_quality(b: BackendConfig, p: float | None) -> float:
    return b.quality if p is None else 1 - p * (1 - b.quality)


def _score_all(config: RouterConfig, pool: Pool, inp: RouteInput, backends: list[BackendConfig], p: float | None) -> list[CandidateScore]:
    out = []
    req = inp.request
    for b in backends:
        q = _expected_quality(b, p)
        cost = est_cost(b, inp)
        sticky = pool.affinity(b.name, inp.principal, req.session)
        for r in pool.replicas[b.name]:
            if not r.available():
                continue
            lat = r.predicted_latency_s(req.max_tokens)
            aff = sticky == r.url and r.load_share() < config.affinity_load_gate
            if aff:
                lat *= _AFFINITY_SPEEDUP
            score = q - cost / config.willing_to_pay_usd - config.latency_weight * lat
            out.append(
                CandidateScore(
                    model=b.name,
                    replica=r.url,
                    score=round(score, 6),
                    expected_quality=round(q, 4),
                    est_cost_usd=cost,
                    predicted_latency_s=round(lat, 4),
                    affinity=aff,
                )
            )
    out.sort(key=lambda c: -c.score)
    return out


def _best_replica(cands: list[CandidateScore], model: str) -> CandidateScore:
    return min((c for c in cands if c.model == model), key=lambda c: c.predicted_latency_s)


def select(
    policy: str,
    config: RouterConfig,
    pool: Pool,
    inp: RouteInput,
    backends: list[BackendConfig],
    p: float | None,
    calibration: Calibration | None,
    calibration_source: str,
) -> Selection:
    """Run one selection policy over the filtered backends; `p` is the predictor's score of the prompt
    (None without a predictor; the static policy ignores it)."""
    req = inp.request
    p = None if policy == "static" else p
    cands = _score_all(config, pool, inp, backends, p)
    by_name = {b.name: b for b in backends}

    if policy == "load":
        top = cands[0]
        return Selection(cands, top.model, top.replica, "highest joint score of quality, cost and predicted latency", p)

    if policy == "cost_quality":
        b = max(backends, key=lambda b: _expected_quality(b, p) - est_cost(b, inp) / config.willing_to_pay_usd)
        c = _best_replica(cands, b.name)
        why = "best expected quality minus cost" + ("" if p is not None else " (no predictor configured: prior quality)")
        return Selection(cands, b.name, c.replica, why, p)

    if policy == "static":
        prompt = req.prompt().lower()
        for i, rule in enumerate(config.rules):
            if rule.role and rule.role != inp.role:
                continue
            if inp.prompt_tokens < rule.min_prompt_tokens:
                continue
            if rule.max_prompt_tokens is not None and inp.prompt_tokens > rule.max_prompt_tokens:
                continue
            if rule.contains and not any(w.lower() in prompt for w in rule.contains):
                continue
            if rule.model not in by_name:
                continue
            c = _best_replica(cands, rule.model)
            return Selection(cands, rule.model, c.replica, f"rule {i} matched", p)
        b = min(backends, key=lambda b: (est_cost(b, inp), -b.quality))
        return Selection(cands, b.name, _best_replica(cands, b.name).replica, "no rule matched: cheapest eligible", p)

    # cascade
    if p is None or calibration is None:
        raise NoCandidateError(
            "the cascade policy needs router.predictor_path and router.calibration_path "
            "(create them with `ogmux router train` and `ogmux router calibrate`), or choose another policy"
        )
    weak = by_name.get(config.cascade_weak) or min(backends, key=lambda b: (est_cost(b, inp), -b.quality))
    strong = by_name.get(config.cascade_strong) or max(backends, key=lambda b: (b.quality, -est_cost(b, inp)))
    assert p is not None
    up = calibration.escalate(p)
    chosen = strong if up else weak
    g = Guarantee(
        method=calibration.method,
        alpha=calibration.alpha,
        budget=calibration.budget,
        delta=calibration.delta,
        threshold=calibration.threshold,
        n=calibration.n,
        calibration_source=calibration.source or calibration_source,
        calibration_version=f"{calibration.format} {calibration.data_hash[:12]} {calibration.created}",
        score=round(p, 6),
        escalated=up,
    )
    t = "none" if calibration.threshold is None else f"{calibration.threshold:.3f}"
    why = (
        f"predictor score {p:.3f} {'≥' if up else '<'} calibrated threshold {t}: "
        f"{'escalate to' if up else 'answer with'} {chosen.name}"
    )
    return Selection(cands, chosen.name, _best_replica(cands, chosen.name).replica, why, p, g)


def replica_order(pool: Pool, model: str, max_tokens: int) -> list[Replica]:
    """Available replicas of `model`, lowest predicted latency first."""
    reps = [r for r in pool.replicas[model] if r.available()]
    return sorted(reps, key=lambda r: r.predicted_latency_s(max_tokens))
