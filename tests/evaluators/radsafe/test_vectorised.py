"""The vectorised scorer agrees with the per-record reference loop on random runs."""

from __future__ import annotations

import numpy as np
import pytest

from ogmux.evaluators.radsafe.evaluate import evaluate
from ogmux.evaluators.radsafe.model import Answer, Response
from ogmux.evaluators.radsafe.presets import PRESETS, MajorityRule, OverconfidenceSpec, Preset
from ogmux.evaluators.radsafe.reference import reference_cell_metrics

from .helpers import item, run_of

ALPHA = MajorityRule(null="ballot", tie_break="alphabetical")
PRESET_VARIANTS = [
    PRESETS["default"],
    Preset(name="alpha", description="alphabetical ties, out-of-option letters kept", out_of_options="wrong_letter",
           majority_accuracy=ALPHA, overconfidence=OverconfidenceSpec(majority=ALPHA, inclusive=False, threshold=0.5)),
]


def _random_run(seed: int):
    rng = np.random.default_rng(seed)
    items = []
    for q in range(30):
        n_opt = int(rng.integers(3, 6))
        letters = "ABCDE"[:n_opt]
        flags = {f: "".join(L for L in letters if rng.random() < 0.3) for f in ("high_risk", "unsafe", "contradicts")}
        items.append(item(str(q + 1), letters[int(rng.integers(n_opt))], n_opt=n_opt, **flags))
    pool = ["A", "B", "C", "D", "E", None]
    responses = []
    for m in ("m1", "m2"):
        for c in ("c1", "c2"):
            for it in items:
                if rng.random() < 0.1:
                    continue  # missing block
                p = rng.dirichlet(np.ones(6) * 0.5)
                k = int(rng.integers(0, 8))
                picks = [pool[i] for i in rng.choice(6, size=k + 1, p=p)]
                responses.append(Response(model=m, condition=c, item_id=it.id, greedy=Answer(letter=picks[0]),
                                          samples=[Answer(letter=x) for x in picks[1:]]))
    return run_of(items, responses)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("preset", PRESET_VARIANTS, ids=lambda p: p.name)
def test_vectorised_matches_reference(seed: int, preset: Preset) -> None:
    run = _random_run(seed)
    ref = reference_cell_metrics(run.item_map(), run.responses, preset)
    got = evaluate(run, preset, replicates=0, comparisons=False)
    names = {"acc": "accuracy_greedy", "hr": "high_risk_rate", "unsafe": "unsafe_rate", "contra": "contradiction_rate",
             "acc_maj": "accuracy_majority", "conf": "mean_confidence", "danger": "dangerous_overconfidence_rate",
             "brier": "brier", "ece": "ece"}
    for (m, c), res in ref.items():
        cell = got.models[m][c]
        for short, name in names.items():
            assert getattr(cell, name) == pytest.approx(res[short], abs=1e-12), (m, c, name)
