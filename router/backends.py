"""Calling models: OpenAI-compatible servers (vLLM, OpenAI) with the `openai` SDK, Anthropic with `anthropic`.

Both clients run with SDK retries off: the router owns retries, fallback and the deadline.
Every failure is mapped to `BackendError` (retryable elsewhere) or `UpstreamRejectedError`
(the request itself is wrong; retrying would not help).
"""

from __future__ import annotations

import base64
import io
import json
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from ogmux.router.config import BackendConfig
from ogmux.router.errors import BackendError, UpstreamRejectedError
from ogmux.router.types import ChatMessage, ChatRequest, MessageToolCall, ToolCall

__all__ = ["Backend", "Completion", "Delta", "StreamAssembler", "ToolCallDelta", "make_backend"]

_REJECT = {400, 404, 413, 422}
# How vLLM, OpenAI and Anthropic word a prompt longer than the model's context.
_CONTEXT_OVERFLOW = re.compile(
    r"maximum context length|context[ _]length[ _]exceeded|prompt is too long|too many tokens|"
    r"exceeds the (?:model's )?(?:maximum )?context",
    re.IGNORECASE,
)


@dataclass
class ToolCallDelta:
    """A piece of a streamed tool call: `position` orders the calls of one choice; the id and name
    come with the first piece, the arguments (JSON text) in pieces."""

    position: int
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class Delta:
    """A piece of a streamed answer: text or tool-call pieces for choice `index`, and at the end
    finish reason / usage."""

    index: int = 0
    text: str = ""
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def has_answer(self) -> bool:
        """Whether this piece carries part of the answer (text or a tool call), not only its end."""
        return bool(self.text or self.tool_calls)


@dataclass
class Completion:
    """A whole answer: per choice the text, the tool calls and the finish reason; usage as reported."""

    texts: list[str]
    tool_calls: list[list[ToolCall]]
    finish_reasons: list[str | None]
    prompt_tokens: int
    completion_tokens: int
    routed_experts: list[dict[str, int]] | None = field(default=None)


class StreamAssembler:
    """Joins the deltas of a streamed answer with `n` choices into a `Completion`."""

    def __init__(self, n: int):
        self._texts = [""] * n
        self._finish: list[str | None] = [None] * n
        self._calls: list[dict[int, ToolCallDelta]] = [{} for _ in range(n)]
        self._usage = (0, 0)

    def add(self, d: Delta) -> None:
        if d.prompt_tokens is not None:
            self._usage = (d.prompt_tokens, d.completion_tokens or 0)
        if d.index >= len(self._texts):
            return
        self._texts[d.index] += d.text
        self._finish[d.index] = d.finish_reason or self._finish[d.index]
        for piece in d.tool_calls:
            call = self._calls[d.index].setdefault(piece.position, ToolCallDelta(piece.position))
            call.id = call.id or piece.id
            call.name = call.name or piece.name
            call.arguments += piece.arguments

    def completion(self) -> Completion:
        calls = [
            [ToolCall(id=c.id, name=c.name, arguments=c.arguments) for _, c in sorted(choice.items())]
            for choice in self._calls
        ]
        return Completion(self._texts, calls, self._finish, *self._usage)


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("retry-after") if headers is not None else None
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _named(exc: BaseException | None, name: str) -> bool:
    """Whether `exc` is an instance of a class called `name`: both SDKs raise their own vendored
    copies of httpx's exceptions, so the class is recognised by name."""
    return any(c.__name__ == name for c in type(exc).__mro__)


def _map_error(exc: Exception, where: str, sdk: ModuleType) -> Exception:
    """`exc` raised by `sdk` (the openai or anthropic module: both name their errors alike) as ours."""
    status = getattr(exc, "status_code", None)
    if isinstance(exc, sdk.APITimeoutError):
        return BackendError(f"{where}: timed out", None)
    if isinstance(exc, sdk.APIConnectionError):
        # Refused or unresolvable: the replica is down. Anything else (a kept-alive connection the
        # server closed, a reset) is transient and worth retrying on the same replica.
        down = _named(exc.__cause__, "ConnectError")
        what = "connection refused" if down else "connection dropped"
        return BackendError(f"{where}: {what} ({exc.__cause__ or exc})", None, unreachable=down)
    if status is not None:
        body = getattr(exc, "message", str(exc))
        if status in _REJECT:
            overflow = status in (400, 413) and bool(_CONTEXT_OVERFLOW.search(str(body)))
            return UpstreamRejectedError(f"{where} rejected the request (HTTP {status}): {body}", status, overflow)
        headers = getattr(getattr(exc, "response", None), "headers", None)
        return BackendError(f"{where}: HTTP {status}", status, _retry_after(headers), upstream=str(body))
    return BackendError(f"{where}: {type(exc).__name__}", None, upstream=repr(exc))


def _expert_counts(b64: str) -> dict[str, int]:
    import numpy as np  # only vLLM's routed-experts payload is a numpy array

    arr = np.load(io.BytesIO(base64.b64decode(b64)), allow_pickle=False)
    ids, counts = np.unique(arr, return_counts=True)
    return {str(int(i)): int(c) for i, c in zip(ids, counts, strict=True)}


def _tool_call_pieces(calls: Any) -> list[ToolCallDelta]:
    """The `delta.tool_calls` of one chunk choice: each names the call it continues by `index`."""
    out = []
    for c in calls or []:
        fn = c.get("function") or {}
        out.append(ToolCallDelta(c.get("index", 0), c.get("id") or "", fn.get("name") or "", fn.get("arguments") or ""))
    return out


def _chunk_deltas(chunk: Any) -> list[Delta]:
    """The deltas of one `chat.completion.chunk` object, as decoded JSON."""
    out = []
    for c in chunk.get("choices") or []:
        delta = c.get("delta") or {}
        out.append(
            Delta(
                index=c.get("index", 0),
                text=delta.get("content") or "",
                tool_calls=_tool_call_pieces(delta.get("tool_calls")),
                finish_reason=c.get("finish_reason"),
            )
        )
    usage = chunk.get("usage")
    if usage:
        out.append(
            Delta(
                prompt_tokens=usage.get("prompt_tokens", 0),
                completion_tokens=usage.get("completion_tokens", 0),
            )
        )
    return out


def _tool_calls(message: dict[str, Any]) -> list[ToolCall]:
    """The `tool_calls` of a `chat.completion` message, as decoded JSON."""
    return [
        ToolCall(id=c.get("id") or "", name=c["function"]["name"], arguments=c["function"].get("arguments") or "")
        for c in message.get("tool_calls") or []
    ]


def _completion(data: Any) -> Completion:
    """A `chat.completion` object, as decoded JSON."""
    choices = sorted(data["choices"], key=lambda c: c.get("index", 0))
    messages = [c.get("message") or {} for c in choices]
    experts = [c.get("routed_experts") for c in choices]
    usage = data.get("usage") or {}
    return Completion(
        texts=[m.get("content") or "" for m in messages],
        tool_calls=[_tool_calls(m) for m in messages],
        finish_reasons=[c.get("finish_reason") for c in choices],
        prompt_tokens=usage.get("prompt_tokens") or 0,
        completion_tokens=usage.get("completion_tokens") or 0,
        routed_experts=[_expert_counts(e) for e in experts] if all(experts) and experts else None,
    )


class Backend(ABC):
    """One replica of one backend, callable streaming or not."""

    def __init__(self, config: BackendConfig, url: str):
        self.config = config
        self.url = url

    @abstractmethod
    async def complete(self, req: ChatRequest, timeout: float) -> Completion:
        """One non-streamed completion within `timeout` seconds."""

    @abstractmethod
    def stream(self, req: ChatRequest, timeout: float) -> AsyncIterator[Delta]:
        """Deltas (text, tool-call pieces) as they arrive, the last one carrying usage."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release the SDK client."""


class OpenAIBackend(Backend):
    """vLLM (base URL = root + /v1) or OpenAI, through `openai.AsyncOpenAI`."""

    def __init__(self, config: BackendConfig, url: str, api_key: str):
        super().__init__(config, url)
        base = f"{url}/v1" if config.kind == "vllm" else url
        import openai  # imported with the first backend, not with the server

        self.sdk = openai
        self.client = openai.AsyncOpenAI(base_url=base, api_key=api_key or "EMPTY", max_retries=0)

    def _body(self, req: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": [m.model_dump(exclude_none=True) for m in req.messages],
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
            "n": req.n,
        }
        if req.json_output:
            body["response_format"] = {"type": "json_object"}
        if req.tools:
            body["tools"] = req.tools
        return body

    async def _post(self, body: dict[str, Any], timeout: float, stream: bool) -> Any:
        # The SDK sends the request, decodes JSON or SSE and maps errors, but the body and the
        # answer stay plain JSON (`cast_to=object`): its typed request transform and response
        # models cost more CPU per call than the whole routing decision.
        return await self.client.post(
            "/chat/completions",
            cast_to=object,
            body=body,
            options={"timeout": timeout},
            stream=stream,
            stream_cls=self.sdk.AsyncStream[object],
        )

    async def complete(self, req: ChatRequest, timeout: float) -> Completion:
        where = f"{self.config.name}@{self.url}"
        try:
            data = await self._post(self._body(req), timeout, stream=False)
        except self.sdk.OpenAIError as exc:
            raise _map_error(exc, where, self.sdk) from exc
        try:
            return _completion(data)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise BackendError(f"{where}: not a chat completion", upstream=f"{exc!r}: {str(data)[:200]}") from exc

    async def stream(self, req: ChatRequest, timeout: float) -> AsyncIterator[Delta]:
        """Deltas of the SSE answer, the last one carrying usage (`stream_options.include_usage`)."""
        where = f"{self.config.name}@{self.url}"
        body = {**self._body(req), "stream": True, "stream_options": {"include_usage": True}}
        try:
            stream = await self._post(body, timeout, stream=True)
            chunks = 0
            async for chunk in stream:
                chunks += 1
                try:
                    deltas = _chunk_deltas(chunk)
                except (AttributeError, KeyError, TypeError) as exc:
                    raise BackendError(f"{where}: not a chat completion chunk", upstream=str(chunk)[:200]) from exc
                for d in deltas:
                    yield d
            if not chunks:
                raise BackendError(f"{where}: not a chat completion stream: the answer held no SSE chunks")
        except self.sdk.OpenAIError as exc:
            raise _map_error(exc, where, self.sdk) from exc

    async def aclose(self) -> None:
        await self.client.close()


def _anthropic_content(m: ChatMessage) -> str | list[dict[str, Any]]:
    if isinstance(m.content, str):
        return m.content
    parts: list[dict[str, Any]] = []
    for p in m.content or []:
        if p["type"] == "text":
            parts.append({"type": "text", "text": p.get("text", "")})
            continue
        url = (p.get("image_url") or {}).get("url", "")
        if url.startswith("data:"):
            head, _, data = url.partition(",")
            parts.append(
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": head[5:].split(";")[0], "data": data},
                }
            )
        else:
            parts.append({"type": "image", "source": {"type": "url", "url": url}})
    return parts


def _tool_use(call: MessageToolCall, where: str) -> dict[str, Any]:
    """An OpenAI-style tool call as a `tool_use` block, whose input is the parsed arguments object."""
    try:
        args = json.loads(call.function.arguments or "{}")
    except (json.JSONDecodeError, RecursionError):  # nested past the parser's depth: refused like any non-object
        args = None
    if not isinstance(args, dict):
        raise UpstreamRejectedError(
            f"{where} takes tool call arguments as a JSON object, but call {call.id!r} ({call.function.name}) has "
            f"{call.function.arguments[:80]!r}",
            400,
        )
    return {"type": "tool_use", "id": call.id, "name": call.function.name, "input": args}


def _anthropic_messages(messages: list[ChatMessage], where: str) -> list[dict[str, Any]]:
    """The non-system messages as Messages API turns: an assistant's tool calls become `tool_use` blocks,
    each "tool" message a `tool_result` block, and consecutive results share one user turn."""
    turns: list[dict[str, Any]] = []
    results: list[dict[str, Any]] | None = None  # the blocks of the last turn, while it holds only tool results
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            block = {"type": "tool_result", "tool_use_id": m.tool_call_id, "content": _anthropic_content(m)}
            if results is None:
                results = []
                turns.append({"role": "user", "content": results})
            results.append(block)
            continue
        results = None
        content = _anthropic_content(m)
        if m.tool_calls:
            blocks = content if isinstance(content, list) else [{"type": "text", "text": content}] if content else []
            content = blocks + [_tool_use(c, where) for c in m.tool_calls]
        turns.append({"role": "assistant" if m.role == "assistant" else "user", "content": content})
    return turns


class AnthropicBackend(Backend):
    """Anthropic Messages API through `anthropic.AsyncAnthropic`.

    n > 1 is filtered out before routing; temperature is not sent (the current Messages API
    and SDK no longer take sampling parameters).
    """

    def __init__(self, config: BackendConfig, url: str, api_key: str):
        super().__init__(config, url)
        import anthropic  # imported with the first Anthropic backend, not with the server (about 1 s)

        self.sdk = anthropic
        self.client = anthropic.AsyncAnthropic(base_url=url, api_key=api_key or "EMPTY", max_retries=0)

    def _args(self, req: ChatRequest, timeout: float) -> dict[str, Any]:
        system = "\n\n".join(m.text() for m in req.messages if m.role == "system")
        if req.json_output:
            system = (system + "\n\n" if system else "") + "Answer with one JSON object and nothing else."
        args: dict[str, Any] = {
            "model": self.config.model,
            "max_tokens": req.max_tokens,
            "messages": _anthropic_messages(req.messages, f"{self.config.name}@{self.url}"),
            "timeout": timeout,
        }
        if system:
            args["system"] = system
        if req.tools:
            args["tools"] = [
                {
                    "name": t["function"]["name"],
                    "description": t["function"].get("description", ""),
                    "input_schema": t["function"].get("parameters", {"type": "object"}),
                }
                for t in req.tools
            ]
        return args

    async def complete(self, req: ChatRequest, timeout: float) -> Completion:
        try:
            msg = await self.client.messages.create(**self._args(req, timeout))
        except self.sdk.AnthropicError as exc:
            raise _map_error(exc, f"{self.config.name}@{self.url}", self.sdk) from exc
        text = "".join(b.text for b in msg.content if b.type == "text")
        calls = [ToolCall(id=b.id, name=b.name, arguments=json.dumps(b.input)) for b in msg.content if b.type == "tool_use"]
        return Completion([text], [calls], [msg.stop_reason], msg.usage.input_tokens, msg.usage.output_tokens)

    async def stream(self, req: ChatRequest, timeout: float) -> AsyncIterator[Delta]:
        """Text and `tool_use` blocks as deltas; a tool call's position is its content block's index."""
        prompt_tokens = 0
        no_input: set[int] = set()  # tool_use blocks whose input JSON has not started
        try:
            stream = await self.client.messages.create(**self._args(req, timeout), stream=True)
            async for ev in stream:
                if ev.type == "message_start":
                    prompt_tokens = ev.message.usage.input_tokens
                elif ev.type == "content_block_delta" and ev.delta.type == "text_delta":
                    yield Delta(text=ev.delta.text)
                elif ev.type == "content_block_start" and ev.content_block.type == "tool_use":
                    no_input.add(ev.index)
                    yield Delta(tool_calls=[ToolCallDelta(ev.index, ev.content_block.id, ev.content_block.name)])
                elif ev.type == "content_block_delta" and ev.delta.type == "input_json_delta" and ev.delta.partial_json:
                    no_input.discard(ev.index)
                    yield Delta(tool_calls=[ToolCallDelta(ev.index, arguments=ev.delta.partial_json)])
                elif ev.type == "content_block_stop" and ev.index in no_input:
                    # A call without input streams no JSON; unstreamed it reads {} (json.dumps of the input).
                    no_input.discard(ev.index)
                    yield Delta(tool_calls=[ToolCallDelta(ev.index, arguments="{}")])
                elif ev.type == "message_delta":
                    yield Delta(
                        finish_reason=ev.delta.stop_reason,
                        prompt_tokens=prompt_tokens,
                        completion_tokens=ev.usage.output_tokens,
                    )
        except self.sdk.AnthropicError as exc:
            raise _map_error(exc, f"{self.config.name}@{self.url}", self.sdk) from exc
        except Exception as exc:
            # Older SDK releases pass a connection broken mid-stream through unwrapped; newer ones
            # raise APIConnectionError, mapped above to the same retryable error.
            if not _named(exc, "TransportError"):
                raise
            raise BackendError(f"{self.config.name}@{self.url}: connection dropped mid-stream ({exc!r})") from exc

    async def aclose(self) -> None:
        await self.client.close()


def make_backend(config: BackendConfig, url: str, api_key: str) -> Backend:
    """The client for one replica of `config`."""
    if config.kind == "anthropic":
        return AnthropicBackend(config, url, api_key)
    return OpenAIBackend(config, url, api_key)
