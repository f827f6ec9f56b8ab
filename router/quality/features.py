"""Lexical features of a prompt: hashed word and character n-grams plus a few length statistics.

Hashing uses CRC32 (stable across processes, unlike `hash()`), so a saved predictor scores a
prompt the same way in every process without storing a vocabulary.
"""

from __future__ import annotations

import math
import re
import zlib

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ogmux.router.tokens import count_tokens

__all__ = ["DENSE_NAMES", "FeatureConfig", "dense_features", "hashed_ngrams"]

_WORD = re.compile(r"[a-z]+|\d+|[^\sa-z\d]", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")

DENSE_NAMES = ("log_tokens", "log_chars", "log_lines", "digit_share", "log_numbers", "upper_share")


class FeatureConfig(BaseModel):
    """How prompts are turned into features (saved with the predictor)."""

    model_config = ConfigDict(extra="forbid")

    hash_bits: int = Field(18, ge=8, le=24, description="the hashed n-gram space has 2**hash_bits dimensions")
    word_ngrams: tuple[int, int] = Field((1, 2), description="smallest and largest word n-gram")
    char_ngrams: tuple[int, int] = Field(
        (0, 0), description="smallest and largest character n-gram; (0, 0) for none"
    )
    min_df: int = Field(2, ge=1, description="n-grams seen in fewer training prompts are dropped")
    max_chars: int = Field(
        4000, ge=100, description="only the first and last max_chars/2 characters are read"
    )


def _clip(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    return text[:half] + " " + text[-half:]


def hashed_ngrams(text: str, config: FeatureConfig) -> dict[int, int]:
    """Counts of hashed word and character n-grams of `text` (lower-cased)."""
    mask = (1 << config.hash_bits) - 1
    text = _clip(text, config.max_chars).lower()
    counts: dict[int, int] = {}
    words = _WORD.findall(text)
    lo, hi = config.word_ngrams
    for n in range(max(lo, 1), hi + 1):
        for i in range(len(words) - n + 1):
            key = zlib.crc32(("w" + " ".join(words[i : i + n])).encode()) & mask
            counts[key] = counts.get(key, 0) + 1
    lo, hi = config.char_ngrams
    if hi > 0:
        squeezed = " ".join(text.split())
        data = squeezed.encode()
        for n in range(max(lo, 1), hi + 1):
            seed = zlib.crc32(b"c%d" % n)
            for i in range(len(data) - n + 1):
                key = zlib.crc32(data[i : i + n], seed) & mask
                counts[key] = counts.get(key, 0) + 1
    return counts


def dense_features(text: str) -> np.ndarray:
    """Length and shape statistics of `text`, in the order of DENSE_NAMES."""
    n_chars = max(len(text), 1)
    digits = sum(c.isdigit() for c in text)
    upper = sum(c.isupper() for c in text)
    return np.array(
        [
            math.log1p(count_tokens(text)),
            math.log1p(len(text)),
            math.log1p(text.count("\n")),
            digits / n_chars,
            math.log1p(len(_NUMBER.findall(text))),
            upper / n_chars,
        ]
    )
