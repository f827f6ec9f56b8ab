"""Prompt token counts with the real cl100k tokenizer."""

from __future__ import annotations

from ogmux.router.tokens import count_message_tokens, count_tokens
from ogmux.router.types import ChatMessage


def test_text_and_framing_are_counted() -> None:
    msgs = [ChatMessage(role="system", content="be brief"), ChatMessage(role="user", content="hello there")]
    assert count_tokens("hello there") == 2
    assert count_message_tokens(msgs) == 3 + (4 + count_tokens("be brief")) + (4 + 2)


def test_tool_call_arguments_count_towards_the_prompt() -> None:
    args = '{"city": "Paris", "days": 3, "units": "metric"}'
    call = {"id": "c1", "type": "function", "function": {"name": "forecast", "arguments": args}}
    plain = [ChatMessage(role="user", content="weather?")]
    with_call = [*plain, ChatMessage(role="assistant", content=None, tool_calls=[call])]
    extra = count_message_tokens(with_call) - count_message_tokens(plain)
    assert extra == 4 + count_tokens("forecast") + count_tokens(args)
