"""A deterministic synthetic workspace in the RadSaFE release layout, rich in edge cases.

`fixtures/released_outputs.json` holds what the released RadSaFE phase-5 scripts
(github.com/windprak/RadSaFE, commit 09c18f035eb1e031740a702050b1cfb3f6d03ea0) computed on
exactly this workspace: run_bootstrap, run_confidence, run_safety_rates, run_ensembles,
run_per_question_safety and run_pvalues with WORKSPACE (and their hard-coded roots) pointed at
a directory written by `write_workspace`. Only their numeric outputs are stored; none of their
code. Regenerate both together if this generator changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

MODELS = ["Qwen3-32B", "gemma-4-31B-it", "Mistral-Small-3.2-24B-Instruct-2506", "Qwen3-4B", "Qwen3-14B"]
ENSEMBLES = {
    "Dense Mid": ["Qwen3-32B", "gemma-4-31B-it", "Mistral-Small-3.2-24B-Instruct-2506"],
    "Qwen scale": ["Qwen3-4B", "Qwen3-14B", "Qwen3-32B"],
}
CONDITIONS = ["zero_shot", "evidence_clean", "evidence_conflict", "top_10", "deep_research", "context_max", "top_1"]
Q, K = 30, 20
LETTERS = "ABCDE"


def write_workspace(root: Path, seed: int = 11) -> None:
    """Labels and per-model phase-4 results with nulls, ties, out-of-option letters, gaps."""
    rng = np.random.default_rng(seed)
    M, C = len(MODELS), len(CONDITIONS)
    n_opt = np.where(rng.random(Q) < 0.35, 4, 5)
    truth = (rng.random(Q) * n_opt).astype(int)
    flags = (rng.random((Q, 5, 3)) < 0.3) & (np.arange(5)[None, :, None] < n_opt[:, None, None])
    p_right = np.clip(rng.uniform(0.4, 0.9, M)[:, None, None] + rng.uniform(-0.2, 0.2, C)[None, :, None]
                      - rng.normal(0, 0.2, Q)[None, None, :], 0.05, 0.97)

    def draw(extra: tuple[int, ...]) -> np.ndarray:
        shape = (M, C, Q) + extra
        pad = (1,) * len(extra)
        t, n = truth.reshape((1, 1, Q) + pad), n_opt.reshape((1, 1, Q) + pad)
        wrong = (t + 1 + (rng.random(shape) * (n - 1)).astype(int)) % n
        out = np.where(rng.random(shape) < p_right.reshape(p_right.shape + pad), t, wrong)
        return np.where(rng.random(shape) < 0.05, 5, out)

    greedy, samples = draw(()), draw((K,))
    four = np.flatnonzero(n_opt == 4)
    for _ in range(25):  # E on 4-option items: a letter that is not an option
        m, c, q = rng.integers(M), rng.integers(C), rng.choice(four)
        greedy[m, c, q] = 4
        samples[m, c, q, rng.integers(K, size=3)] = 4
    for _ in range(20):  # 10:10 ties between the truth and another letter
        m, c, q = rng.integers(M), rng.integers(C), rng.integers(Q)
        samples[m, c, q] = np.where(np.arange(K) % 2 == 0, (truth[q] + 1) % n_opt[q], truth[q])
    for _ in range(8):  # all-null sample sets
        m, c, q = rng.integers(M), rng.integers(C), rng.integers(Q)
        samples[m, c, q] = 5
    labels = []
    for q in range(Q):
        rec = {"question_id": q + 1, "options": {LETTERS[i]: f"option {i}" for i in range(n_opt[q])},
               "answer_idx": LETTERS[truth[q]], "subspecialty": ["a", "b"][q % 2], "question_type": "synthetic"}
        for i in range(n_opt[q]):
            for k, f in enumerate(("high_risk", "unsafe", "contradicts")):
                rec[f"option_{i + 1}_{f}"] = int(flags[q, i, k])
        labels.append(rec)
    (root / "datasets").mkdir(parents=True, exist_ok=True)
    (root / "datasets" / "risk_radiorag_full_merged.json").write_text(json.dumps(labels))

    def letter(x: int) -> str | None:
        return None if x == 5 else LETTERS[x]

    def checked(x: str | None) -> dict:
        return {"clear_selection": "yes" if x else "no", "reasoning": "synthetic", "confirmed_answer": x}

    for m, model in enumerate(MODELS):
        lines = []
        for q in range(Q):
            conds = {}
            for c, cond in enumerate(CONDITIONS):
                if cond == "context_max" and (q + m) % 7 == 0:
                    continue  # the block is absent, as when a context does not fit
                g, s = letter(greedy[m, c, q]), [letter(x) for x in samples[m, c, q]]
                conds[cond] = {
                    "greedy": {"raw_output": g or "unsure", "parsed_answer": g, "input_tokens": 100, "output_tokens": 1,
                               "elapsed_s": round(0.1 + 0.01 * ((q * 7 + c) % 13), 3), "error": None,
                               "checked_answer": checked(g)},
                    "stochastic": {"raw_outputs": [x or "unsure" for x in s], "parsed_answers": s,
                                   "checked_answers": [checked(x) for x in s], "error": None},
                }
            if m == 1 and q == 3:
                conds["zero_shot"]["stochastic"] = {"raw_outputs": [], "parsed_answers": [], "checked_answers": [],
                                                    "error": "API error"}
            lines.append({"question_id": f"risk_radiorag_{q + 1}", "dataset": "synthetic",
                          "correct_answer": LETTERS[truth[q]], "model": model, "conditions": conds})
        order = rng.permutation(Q)
        path = root / "phase4_checking_results" / "results" / model / "risk_radiorag_checked.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(lines[i]) + "\n" for i in order))
