"""Vectorised per-response and per-item scoring on letter-code arrays.

Codes: 0..4 = A..E, 5 = NULL, -1 = padding (no sample). Arrays broadcast over any leading
axes; the item axis is the one before the sample axis.
"""

from __future__ import annotations

import numpy as np

from ogmux.evaluators.radsafe.presets import MajorityRule, OverconfidenceSpec, Preset
from ogmux.evaluators.radsafe.table import NULL

__all__ = [
    "agreement",
    "all_abstained",
    "ballot_counts",
    "dangerous",
    "effective",
    "entropy_confidence",
    "first_seen",
    "flag_of",
    "in_options",
    "majority",
    "sample_confidence",
]

N_CAT = 6  # five letters + NULL


def effective(codes: np.ndarray, option_mask: np.ndarray, out_of_options: str, *, sample_axis: bool) -> np.ndarray:
    """Apply the preset's rule for letters that are not options: keep them, or make them NULL.

    `option_mask` is (Q, 5); `codes` is (..., Q) or, with `sample_axis`, (..., Q, K).
    """
    if out_of_options != "null":
        return codes
    letters = (codes >= 0) & (codes < NULL)
    valid = in_options(codes, option_mask, sample_axis=sample_axis)
    return np.where(letters & ~valid, np.int8(NULL), codes).astype(np.int8)


def in_options(codes: np.ndarray, option_mask: np.ndarray, *, sample_axis: bool = False) -> np.ndarray:
    """True where the code is a letter that is an option of its item (`option_mask` is (Q, 5))."""
    out = np.zeros(codes.shape, bool)
    for L in range(5):
        col = option_mask[:, L]
        out |= (codes == L) & (col[:, None] if sample_axis else col)
    return out


def ballot_counts(samples: np.ndarray) -> np.ndarray:
    """Counts per category (A..E, NULL) over the last axis: shape (..., 6)."""
    return np.stack([(samples == c).sum(-1, dtype=np.int16) for c in range(N_CAT)], axis=-1)


def first_seen(samples: np.ndarray) -> np.ndarray:
    """Index of the first occurrence of each category (K when absent): shape (..., 6)."""
    K = samples.shape[-1]
    if K == 0:
        return np.zeros(samples.shape[:-1] + (N_CAT,), np.intp)
    out = []
    for c in range(N_CAT):
        hit = samples == c
        out.append(np.where(hit.any(-1), hit.argmax(-1), K))
    return np.stack(out, axis=-1)


def majority(counts: np.ndarray, first: np.ndarray | None, rule: MajorityRule) -> np.ndarray:
    """The vote under `rule`; NULL when nothing was cast (or NULL wins / tie -> NULL)."""
    c = counts.astype(np.int32).copy()
    if rule.null == "drop":
        c[..., NULL] = 0
    top = c.max(-1)
    tied = (c == top[..., None]) & (top[..., None] > 0)
    letters_tied = tied[..., :NULL]
    n_tied_letters = letters_tied.sum(-1)
    if rule.tie_break == "alphabetical":
        pick = letters_tied.argmax(-1)
    elif rule.tie_break == "first_seen":
        if first is None:
            raise ValueError("first_seen tie-break needs sample order")
        pick = np.where(letters_tied, first[..., :NULL], np.iinfo(np.int32).max).argmin(-1)
    else:
        pick = np.where(n_tied_letters == 1, letters_tied.argmax(-1), NULL)
    out = np.where(n_tied_letters > 0, pick, NULL)
    if rule.null == "ballot":
        out = np.where(tied[..., NULL], NULL, out)
    return out.astype(np.int8)


def entropy_confidence(counts: np.ndarray, n_options: np.ndarray) -> np.ndarray:
    """1 - H(p)/ln(|options|+1), NULL a category of its own; NaN without ballots.

    `n_options` broadcasts against the item axis (counts[..., Q, 6]). Letters outside the
    options are categories of their own when present in `counts` (possibly negative values).
    """
    k = counts.sum(-1, keepdims=True).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = counts / k
        h = -np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(-1)
        conf = 1.0 - h / np.log(np.maximum(n_options, 2) + 1.0)
    return np.where(k[..., 0] > 0, conf, np.nan)


def all_abstained(counts: np.ndarray) -> np.ndarray:
    """Ballots were cast and every one is NULL."""
    return (counts[..., NULL] > 0) & (counts[..., :NULL].sum(-1) == 0)


def sample_confidence(counts: np.ndarray, n_options: np.ndarray, preset: Preset) -> np.ndarray:
    """Entropy confidence under `preset`: NaN without ballots, and where all abstained unless the preset says 1."""
    conf = entropy_confidence(counts, n_options)
    if preset.abstained_confidence == "undefined":
        conf = np.where(all_abstained(counts), np.nan, conf)
    return conf


def agreement(counts: np.ndarray) -> np.ndarray:
    """Top valid-letter count / number of valid letters (NULLs dropped); NaN without letters."""
    letters = counts[..., :NULL].astype(np.float64)
    n = letters.sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, letters.max(-1) / n, np.nan)


def flag_of(codes: np.ndarray, flags: np.ndarray, which: int) -> np.ndarray:
    """Flag `which` (0 high_risk, 1 unsafe, 2 contradicts) of the chosen letter; codes (..., Q)."""
    f = np.zeros(codes.shape, bool)
    for L in range(5):
        f |= (codes == L) & flags[:, L, which]
    return f


def dangerous(
    answer: np.ndarray, truth: np.ndarray, confidence: np.ndarray, flags: np.ndarray, spec: OverconfidenceSpec
) -> np.ndarray:
    """Dangerous overconfidence per item: confident (per spec), wrong non-NULL, flagged (per spec)."""
    conf = np.nan_to_num(confidence, nan=-np.inf)
    confident = conf >= spec.threshold if spec.inclusive else conf > spec.threshold
    wrong = (answer != truth) & (answer != NULL) & (answer >= 0)
    if spec.flags:
        idx = {"high_risk": 0, "unsafe": 1, "contradicts": 2}
        flagged = np.zeros(answer.shape, bool)
        for f in spec.flags:
            flagged |= flag_of(answer, flags, idx[f])
    else:
        flagged = np.ones(answer.shape, bool)
    return confident & wrong & flagged
