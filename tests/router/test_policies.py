"""Hard filters and selection policies over a configured pool (decisions only; no backend is called)."""

from __future__ import annotations

import numpy as np
import pytest

from ogmux.router.calibration import fit_threshold
from ogmux.router.config import RouterConfig
from ogmux.router.core import Router
from ogmux.router.errors import BudgetExceededError, NoCandidateError, UnknownModelError, UnknownPolicyError
from ogmux.router.quality import QualityPredictor
from ogmux.router.types import ChatRequest

HARD = ["prove that the integral of this series converges", "derive the closed form of the recurrence proof"]
EASY = ["say hello to my friend", "what colour is the sky today"]


def _config(**kw) -> RouterConfig:
    backends = [
        {"name": "small", "kind": "vllm", "replicas": ["http://127.0.0.1:9"], "context_length": 512,
         "price_in_per_mtok": 0.1, "price_out_per_mtok": 0.2, "quality": 0.3, "capabilities": ["json"]},
        {"name": "big", "kind": "openai", "model": "gpt-x", "context_length": 8192,
         "price_in_per_mtok": 10, "price_out_per_mtok": 30, "quality": 0.95, "capabilities": ["json", "tools", "vision"]},
    ]  # fmt: skip
    return RouterConfig(backends=backends, **kw)


def _req(text="hello", **kw) -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": text}], **kw)


def _predictor() -> QualityPredictor:
    prompts = [p + f" {i}" for i in range(30) for p in HARD + EASY]
    labels = [1, 1, 0, 0] * 30
    return QualityPredictor().fit(prompts, labels)


def test_filters_explain_each_removal():
    r = Router(_config())
    d = r.decide(_req("x " * 600, max_tokens=64))
    ctx = next(f for f in d.filters if f.name == "context_fit")
    assert "small" in ctx.removed and "context 512" in ctx.removed["small"]
    assert d.model == "big"
    d = r.decide(_req(tools=[{"type": "function", "function": {"name": "f"}}]))
    assert "lacks tools" in next(f for f in d.filters if f.name == "capabilities").removed["small"]
    d = r.decide(_req(local_only=True))
    assert d.model == "small" and "big" in next(f for f in d.filters if f.name == "privacy").removed


def test_nothing_fits_names_every_reason():
    r = Router(_config())
    with pytest.raises(NoCandidateError, match="small: hosted backend.*|big: hosted"):
        r.decide(_req("x " * 600, local_only=True))
    with pytest.raises(UnknownModelError, match="configured models"):
        r.decide(_req(model="nope"))
    with pytest.raises(UnknownPolicyError):
        r.decide(_req().model_copy(update={"policy": "magic"}))


def test_role_budget_filters_and_then_refuses():
    r = Router(_config(role_budgets_usd={"intern": 0.001}))
    assert r.decide(_req(max_tokens=200), role="intern").model == "small"
    d = r.decide(_req(max_tokens=200, policy="cost_quality"), role="intern")
    assert "big" in next(f for f in d.filters if f.name == "budget").removed
    r.ledger.charge("req-1", "bob", "intern", 1000, 5000, 0.001)
    with pytest.raises(BudgetExceededError, match="left"):
        r.decide(_req(), role="intern")
    assert r.decide(_req(), role="admin").model  # other roles are unaffected


def test_static_rules_first_match_wins():
    cfg = _config(
        default_policy="static",
        rules=[{"model": "big", "contains": ["prove"]}, {"model": "small", "role": "bot"}, {"model": "big", "min_prompt_tokens": 50}],
    )
    r = Router(cfg)
    assert r.decide(_req("please PROVE it")).reason == "rule 0 matched"
    d = r.decide(_req("hi"), role="bot")
    assert (d.model, d.reason) == ("small", "rule 1 matched")
    assert r.decide(_req("word " * 60)).model == "big"
    assert r.decide(_req("hi")).reason == "no rule matched: cheapest eligible"


def test_cost_quality_uses_the_predictor():
    r = Router(_config(willing_to_pay_usd=5.0), predictor=_predictor())
    hard = r.decide(_req(HARD[0], policy="cost_quality"))
    easy = r.decide(_req(EASY[0], policy="cost_quality"))
    assert hard.predictor_score > easy.predictor_score
    assert (hard.model, easy.model) == ("big", "small")


def test_cascade_carries_the_calibrated_guarantee():
    pred = _predictor()
    rng = np.random.default_rng(0)
    prompts = [p + f" v{i}" for i in range(150) for p in HARD + EASY]
    scores = pred.predict_batch(prompts)
    weak_failed = (np.array([1, 1, 0, 0] * 150) & (rng.random(600) < 0.9)).astype(int)
    cal = fit_threshold(scores, weak_failed, alpha=0.1, delta=0.1, source="synthetic test split")
    r = Router(_config(default_policy="cascade"), predictor=pred, calibration=cal)
    hard, easy = r.decide(_req(HARD[1] + " v999")), r.decide(_req(EASY[1] + " v999"))
    assert (hard.model, easy.model) == ("big", "small")
    g = easy.guarantee
    assert g is not None and not g.escalated and g.alpha == 0.1 and g.delta == 0.1
    assert g.calibration_source == "synthetic test split" and g.calibration_version.startswith("ogmux.calibration/1")
    assert hard.guarantee.escalated and hard.guarantee.score >= cal.threshold


def test_cascade_without_files_says_how_to_make_them():
    with pytest.raises(NoCandidateError, match="ogmux router calibrate"):
        Router(_config()).decide(_req(policy="cascade"))


def test_decision_lists_every_candidate_with_its_terms():
    d = Router(_config()).decide(_req())
    assert d.decision_time_us > 0 and {c.model for c in d.candidates} == {"small", "big"}
    assert d.candidates == sorted(d.candidates, key=lambda c: -c.score)


def test_load_policy_leaves_a_saturated_model_for_an_idle_one():
    """Model and replica in one score: the cheaper model wins while idle; saturated, the other model does."""
    from ogmux.router.metrics import ReplicaMetrics

    backends = [
        {"name": "a", "kind": "vllm", "replicas": ["http://127.0.0.1:9", "http://127.0.0.1:10"], "context_length": 512,
         "price_in_per_mtok": 0.1, "price_out_per_mtok": 0.2, "quality": 0.8},
        {"name": "b", "kind": "vllm", "replicas": ["http://127.0.0.1:11"], "context_length": 512,
         "price_in_per_mtok": 1.0, "price_out_per_mtok": 2.0, "quality": 0.8},
    ]  # fmt: skip
    router = Router(RouterConfig(backends=backends))
    measured = {"ttft_s": 0.05, "itl_s": 0.005}
    for reps in router.pool.replicas.values():
        for r in reps:
            r.ttft_s, r.itl_s = measured["ttft_s"], measured["itl_s"]
            r.metrics = ReplicaMetrics()
    idle = router.decide(_req(policy="load", max_tokens=16))
    assert idle.model == "a"
    for r in router.pool.replicas["a"]:
        r.metrics = ReplicaMetrics(running=16, waiting=8, kv_cache_usage=0.9)
    busy = router.decide(_req(policy="load", max_tokens=16))
    assert busy.model == "b", busy.candidates
    lat = {c.model: c.predicted_latency_s for c in busy.candidates}
    assert lat["a"] > lat["b"]
