"""Lexical ranking: a small analyzer and a field-weighted BM25 index built on `bm25s`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

import bm25s
import numpy as np

__all__ = ["FieldIndex", "analyze"]

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "so",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "should",
        "can",
        "do",
        "does",
        "my",
        "me",
        "we",
        "you",
        "your",
        "our",
    ]
)


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    """A light, deterministic suffix stripper: plural, -ing and -ed forms fold onto one term."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix, keep in (("ing", 5), ("ed", 4)):
        if word.endswith(suffix) and len(word) > keep:
            word = word[: -len(suffix)]
            if word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]
            return word
    return word


def analyze(text: str) -> list[str]:
    """Lower-cased, stop-word-free, lightly stemmed terms of `text` (identifiers split at punctuation)."""
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP]


class FieldIndex:
    """One BM25 index per field over the same rows; a row's score is the weighted sum over fields."""

    def __init__(
        self,
        fields: Mapping[str, Sequence[list[str]]],
        weights: Mapping[str, float],
        k1: float = 1.2,
        b: float = 0.75,
    ):
        self.size = len(next(iter(fields.values()))) if fields else 0
        self._parts: list[tuple[float, bm25s.BM25]] = []
        for name, rows in fields.items():
            weight = float(weights.get(name, 0.0))
            if weight <= 0 or not any(rows):
                continue  # an all-empty field scores zero everywhere (and bm25s cannot index it)
            bm = bm25s.BM25(k1=k1, b=b)
            bm.index([list(r) for r in rows], show_progress=False)
            self._parts.append((weight, bm))

    def scores(self, terms: list[str]) -> np.ndarray:
        """Weighted BM25 score of every row for the query `terms`."""
        total = np.zeros(self.size, dtype=np.float32)
        if not terms:
            return total
        for weight, bm in self._parts:
            total += weight * bm.get_scores(terms)
        return total
