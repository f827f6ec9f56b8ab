"""A run as dense numpy arrays: models x conditions x items (x samples).

Letter codes: 0..4 = A..E, 5 = NULL (no committed letter), -1 = no sample (padding).
All scoring works on these arrays, so a million generations score in seconds.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ogmux.evaluators.radsafe.model import FLAGS, LETTERS, Exclusion, Run

__all__ = ["NULL", "PAD", "ScoreTable", "build_table", "natural_key"]

NULL = 5
PAD = -1
_CODE = {L: i for i, L in enumerate(LETTERS)}


def natural_key(text: str) -> tuple:
    """Sort key that orders `q2` before `q10`."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))


@dataclass
class ScoreTable:
    """Dense arrays of one run. Shapes: M models, C conditions, Q items, K samples (max)."""

    models: list[str]
    conditions: list[str]
    item_ids: list[str]
    option_mask: np.ndarray  # (Q, 5) bool: the letter is an option
    flags: np.ndarray  # (Q, 5, 3) bool: high_risk, unsafe, contradicts per letter
    truth_item: np.ndarray  # (Q,) int8
    truth_record: np.ndarray  # (M, Q) int8, -1 unknown (falls back to the item's truth)
    has_record: np.ndarray  # (M, Q) bool: the model has a record (any condition) for the item
    present: np.ndarray  # (M, C, Q) bool: a condition block exists
    greedy: np.ndarray  # (M, C, Q) int8 codes (NULL when absent)
    samples: np.ndarray  # (M, C, Q, K) int8 codes, PAD beyond the number of samples
    latency: np.ndarray  # (M, C, Q) float greedy latency seconds, NaN unknown
    tokens: np.ndarray  # (M, C, Q) float greedy input+output tokens, NaN unknown
    subspecialty: list[str | None] = field(default_factory=list)
    exclusions: list[Exclusion] = field(default_factory=list)

    @property
    def n_options(self) -> np.ndarray:
        return self.option_mask.sum(-1)

    def n_generations(self) -> int:
        return int(self.present.sum() + (self.samples >= 0).sum())


def _code(letter: str | None) -> int:
    return _CODE.get(letter, NULL) if letter else NULL


def build_table(run: Run, *, models: list[str] | None = None, conditions: list[str] | None = None) -> ScoreTable:
    """Dense arrays of `run`; questions missing for some models and empty blocks become exclusions."""
    items = sorted(run.items, key=lambda i: natural_key(i.id))
    qidx = {it.id: q for q, it in enumerate(items)}
    resp = [r for r in run.responses if r.item_id in qidx]
    unlabelled = Counter((r.model, r.condition) for r in run.responses if r.item_id not in qidx)
    models = models or sorted({r.model for r in resp})
    conditions = conditions or list(dict.fromkeys(r.condition for r in resp))
    midx = {m: i for i, m in enumerate(models)}
    cidx = {c: i for i, c in enumerate(conditions)}
    M, C, Q = len(models), len(conditions), len(items)
    K = max((len(r.samples) for r in resp), default=0)
    option_mask = np.zeros((Q, 5), bool)
    flags = np.zeros((Q, 5, 3), bool)
    for q, it in enumerate(items):
        for L, opt in it.options.items():
            option_mask[q, _CODE[L]] = True
            flags[q, _CODE[L]] = [getattr(opt, f) for f in FLAGS]
    truth_item = np.array([_CODE[it.answer] for it in items], np.int8)
    t = ScoreTable(
        models=models, conditions=conditions, item_ids=[it.id for it in items], option_mask=option_mask,
        flags=flags, truth_item=truth_item, truth_record=np.full((M, Q), -1, np.int8),
        has_record=np.zeros((M, Q), bool), present=np.zeros((M, C, Q), bool),
        greedy=np.full((M, C, Q), NULL, np.int8), samples=np.full((M, C, Q, K), PAD, np.int8),
        latency=np.full((M, C, Q), np.nan), tokens=np.full((M, C, Q), np.nan),
        subspecialty=[it.subspecialty for it in items], exclusions=list(run.exclusions),
    )
    for (model, cond), n in unlabelled.items():
        t.exclusions.append(Exclusion(kind="missing_labels", model=model, condition=cond,
                                      detail=f"{n} response(s) to items without labels are not scored"))
    outside: Counter[tuple[str, str]] = Counter()
    mismatched: dict[tuple[str, str], str] = {}
    for r in resp:
        m, c = midx.get(r.model), cidx.get(r.condition)
        if m is None or c is None:
            continue
        if r.correct_answer is not None and r.correct_answer != items[qidx[r.item_id]].answer:
            mismatched[(r.model, r.item_id)] = r.correct_answer
        opts = option_mask[qidx[r.item_id]]
        outside[(r.model, r.condition)] += sum(
            1 for a in ([r.greedy] if r.greedy else []) + r.samples if a.letter in _CODE and not opts[_CODE[a.letter]]
        )
        q = qidx[r.item_id]
        t.has_record[m, q] = True
        t.present[m, c, q] = True
        if r.correct_answer in _CODE:
            t.truth_record[m, q] = _CODE[r.correct_answer]
        if r.greedy is not None:
            t.greedy[m, c, q] = _code(r.greedy.letter)
            t.latency[m, c, q] = np.nan if r.greedy.latency_s is None else r.greedy.latency_s
            tok = (r.greedy.input_tokens or 0) + (r.greedy.output_tokens or 0)
            t.tokens[m, c, q] = tok if (r.greedy.input_tokens is not None or r.greedy.output_tokens is not None) else np.nan
        if r.samples:
            t.samples[m, c, q, : len(r.samples)] = [_code(a.letter) for a in r.samples]
    for model_name, info in run.meta.get("radsafe", {}).get("files", {}).items():
        m = midx.get(model_name)
        if m is not None:
            for qid in list(info.get("empty_records", {})):
                if qid in qidx:
                    t.has_record[m, qidx[qid]] = True
    for (model, cond), n in outside.items():
        if n:
            t.exclusions.append(Exclusion(kind="letter_outside_options", model=model, condition=cond,
                                          detail=f"{n} answer(s) name a letter that is not an option of the item; "
                                                 "scored by the preset's out_of_options rule"))
    for (model, qid), recorded in mismatched.items():
        t.exclusions.append(Exclusion(kind="truth_mismatch", model=model, item_id=qid,
                                      detail=f"recorded correct answer {recorded!r} differs from the item's "
                                             f"{items[qidx[qid]].answer!r}; the preset's `truth` decides"))
    _report_gaps(t)
    return t


def _report_gaps(t: ScoreTable) -> None:
    any_model = t.present.any(0)  # (C, Q)
    for m, model in enumerate(t.models):
        for c, cond in enumerate(t.conditions):
            missing = np.flatnonzero(any_model[c] & ~t.present[m, c])
            if missing.size:
                ids = [t.item_ids[q] for q in missing[:10]]
                t.exclusions.append(Exclusion(
                    kind="missing_condition", model=model, condition=cond,
                    detail=f"{missing.size} item(s) answered by other models have no block here (e.g. {ids})"))
            no_samples = np.flatnonzero(t.present[m, c] & (t.samples[m, c, :, 0] < 0)) if t.samples.shape[-1] else []
            if len(no_samples) and t.samples.shape[-1]:
                t.exclusions.append(Exclusion(
                    kind="no_samples", model=model, condition=cond,
                    detail=f"{len(no_samples)} item(s) have no sampled answers; left out of confidence metrics"))
