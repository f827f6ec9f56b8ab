"""Small synthetic routing data built in the tests (no /work/shared needed)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ogmux.router.offline_eval import STRONG_MODEL, WEAK_MODEL

HARD = ["integral", "eigenvalue", "theorem", "derivative", "matrix", "proof"]
EASY = ["capital", "color", "animal", "river", "city", "fruit"]


def prompts_and_outcomes(n: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Prompts whose topic words decide how likely the weak model fails; the strong one mostly succeeds."""
    rng = np.random.default_rng(seed)
    prompts, weak, strong = [], [], []
    for i in range(n):
        hard = rng.random() < 0.4
        words = rng.choice(HARD if hard else EASY, size=3)
        prompts.append(f"Question {i}: what about the {words[0]} and the {words[1]} of the {words[2]}?")
        weak.append(float(rng.random() > (0.7 if hard else 0.1)))
        strong.append(float(rng.random() > 0.05))
    return prompts, np.array(weak), np.array(strong)


def write_gsm8k_folder(root: Path, n: int = 240, seed: int = 0, contaminated: int = 2) -> Path:
    """A routellm_gpt4_mixtral-shaped folder holding only gsm8k/ (plus its contamination list)."""
    prompts, weak, strong = prompts_and_outcomes(n, seed)
    folder = root / "gsm8k"
    folder.mkdir(parents=True)
    with (folder / "gsm8k_responses.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["prompt", WEAK_MODEL, STRONG_MODEL])
        for p, w, s in zip(prompts, weak, strong, strict=True):
            writer.writerow([p, str(bool(w)), str(bool(s))])
    with (folder / "contaminated_prompts.jsonl").open("w", encoding="utf-8") as fh:
        for p in prompts[:contaminated]:
            fh.write(json.dumps({"train_prompt": p, "eval_prompt": p, "train_idx": 0, "eval_idx": 0}) + "\n")
    return root
