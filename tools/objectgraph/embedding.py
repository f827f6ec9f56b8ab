"""Dense similarity from a static embedding model whose weights ship inside an installed package.

The model is WordLlama `l2_supercat_256` (MIT): a 32k-token vocabulary of 256-dimensional
vectors in the `wordllama` wheel. A text's vector is the mean of its tokens' vectors, unit
normalised, so cosine similarity is one dot product. The weights and tokenizer are read from
the installed package's files only: nothing is downloaded, ever.

A node is embedded as a reader first sees it (`node_text`): document title, heading path,
title, dense summary and the start of its text. Each node's vector depends on that node
alone, so the vectors of the nodes a caller sees are the same whatever else the corpus holds.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["Embedder", "EmbeddingUnavailable", "cosines", "load_embedder", "node_text"]

DIM = 256
_WEIGHTS = Path("weights") / "l2_supercat_256.safetensors"
_TOKENIZER = Path("tokenizers") / "l2_supercat_tokenizer_config.json"
_START_CHARS = 600  # "the start of the node": enough for its opening sentences, not its whole body
_CACHE_SIZE = 200_000
_BATCH = 256


class EmbeddingUnavailable(RuntimeError):
    """The embedding model cannot be loaded (package missing or its files absent)."""


def node_text(doc_title: str, heading_path: Sequence[str], title: str, dense: str, body: str) -> str:
    """What a reader sees first of a node: where it sits, what it is called, its summary, its opening."""
    where = " / ".join(p for p in (doc_title, *heading_path, title) if p)
    return f"{where}\n{dense}\n{body[:_START_CHARS]}"


class Embedder:
    """Mean-pooled, unit-normalised static token embeddings; vectors memoised by text digest."""

    def __init__(self, vectors: np.ndarray, tokenizer: object):
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._tokenizer = tokenizer
        self._memo: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors (rows) for `texts`; a text with no known token gets the zero vector."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        keys = [hashlib.blake2b(t.encode(), digest_size=16).digest() for t in texts]
        todo: list[int] = []
        with self._lock:
            for i, key in enumerate(keys):
                hit = self._memo.get(key)
                if hit is None:
                    todo.append(i)
                else:
                    out[i] = hit
        if not todo:
            return out
        for start in range(0, len(todo), _BATCH):  # batches bound the tokenizer's transient memory
            batch = todo[start : start + _BATCH]
            encoded = self._tokenizer.encode_batch([texts[i] for i in batch], add_special_tokens=False)  # type: ignore[attr-defined]
            for i, enc in zip(batch, encoded, strict=True):
                ids = np.asarray(enc.ids, dtype=np.int64)
                if ids.size:
                    v = self._vectors[np.clip(ids, 0, len(self._vectors) - 1)].mean(axis=0)
                    norm = float(np.linalg.norm(v))
                    out[i] = v / norm if norm > 0 else 0.0
        with self._lock:
            for i in todo:
                self._memo[keys[i]] = out[i].copy()
            while len(self._memo) > _CACHE_SIZE:
                self._memo.popitem(last=False)
        return out


def cosines(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Row-wise dot products of unit `vectors` with a unit `query` vector.

    einsum, not BLAS: a matrix-vector product is memory-bound, and BLAS thread pools on a
    shared machine made it ten times slower.
    """
    return np.einsum("ij,j->i", vectors, query)


@lru_cache(maxsize=1)
def load_embedder() -> Embedder:
    """The bundled WordLlama model, loaded once from the installed `wordllama` package's files."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingUnavailable("the 'wordllama' package is not installed (pip install wordllama)")
    root = Path(next(iter(spec.submodule_search_locations)))
    weights, tokenizer_file = root / _WEIGHTS, root / _TOKENIZER
    missing = [p.name for p in (weights, tokenizer_file) if not p.is_file()]
    if missing:
        raise EmbeddingUnavailable(f"the installed 'wordllama' package lacks {', '.join(missing)}")
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_file))
    tok.no_padding()
    tok.no_truncation()
    return Embedder(load_file(str(weights))["embedding.weight"], tok)
