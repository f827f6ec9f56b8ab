"""Lexical ranking: a small analyzer and a field-weighted BM25 index built on `bm25s`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # bm25s, numpy and scipy load with the first index: a store-backed replica never builds one
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
    """Field-weighted BM25: one `bm25s` index per field, merged into one term-by-row score matrix.

    bm25s precomputes each (term, row) BM25 contribution; summing the weighted per-field
    matrices over a shared vocabulary gives a row's weighted score with a single lookup per
    query term (a repeated query term counts again, as in bm25s).
    """

    def __init__(
        self,
        fields: Mapping[str, Sequence[list[str]]],
        weights: Mapping[str, float],
        k1: float = 1.2,
        b: float = 0.75,
    ):
        import bm25s
        import numpy as np
        import scipy.sparse as sp

        self.size = len(next(iter(fields.values()))) if fields else 0
        self._vocab: dict[str, int] = {}
        rows_, cols_, data_ = [], [], []
        for name, rows in fields.items():
            weight = float(weights.get(name, 0.0))
            if weight <= 0 or not any(rows):
                continue  # an all-empty field scores zero everywhere (and bm25s cannot index it)
            bm = bm25s.BM25(k1=k1, b=b)
            bm.index([list(r) for r in rows], show_progress=False)
            sc = bm.scores
            width = len(sc["indptr"]) - 1
            local = sp.csc_matrix((sc["data"], sc["indices"], sc["indptr"]), shape=(self.size, width)).tocoo()
            remap = np.zeros(width, dtype=np.int64)
            for term, i in bm.vocab_dict.items():
                if i < width:
                    remap[i] = self._vocab.setdefault(term, len(self._vocab))
            rows_.append(local.row)
            cols_.append(remap[local.col])
            data_.append(local.data * weight)
        shape = (self.size, len(self._vocab))
        if data_:
            coo = sp.coo_matrix((np.concatenate(data_), (np.concatenate(rows_), np.concatenate(cols_))), shape=shape)
            self._matrix = coo.tocsc().astype(np.float32)
        else:
            self._matrix = sp.csc_matrix(shape, dtype=np.float32)

    def scores(self, terms: list[str]) -> np.ndarray:
        """Weighted BM25 score of every row for the query `terms`."""
        import numpy as np

        counts: dict[int, int] = {}
        for t in terms:
            col = self._vocab.get(t)
            if col is not None:
                counts[col] = counts.get(col, 0) + 1
        if not counts:
            return np.zeros(self.size, dtype=np.float32)
        cols = np.fromiter(counts, dtype=np.int64)
        q = np.fromiter(counts.values(), dtype=np.float32)
        return np.asarray(self._matrix[:, cols] @ q, dtype=np.float32).ravel()
