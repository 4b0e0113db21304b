"""The LLM interface every backend speaks (the OpenAI client, the mock), and its chunk type.

An LLM's `open()` acquires a stream before anything is sent to the client (so a refusal can
still become a status code) and returns an async iterator of `Chunk`s. Closing it early
(`aclose()`) releases the upstream at once. A failure after the stream has started is raised
as `StreamFailed` from the iterator. `complete()` asks for the whole answer at once
(`stream: false`) and returns OpenAI's `chat.completion` object as it came.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False
    cached_tokens: int | None = None  # prompt_tokens_details.cached_tokens
    reasoning_tokens: int | None = None  # completion_tokens_details.reasoning_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def usage_of(value: Any) -> Usage | None:
    """OpenAI's `usage` object, read."""
    if not isinstance(value, dict):
        return None
    prompt = value.get("prompt_tokens_details")
    completion = value.get("completion_tokens_details")
    return Usage(
        int(value.get("prompt_tokens") or 0),
        int(value.get("completion_tokens") or 0),
        cached_tokens=_count(prompt, "cached_tokens"),
        reasoning_tokens=_count(completion, "reasoning_tokens"),
    )


def _count(details: Any, name: str) -> int | None:
    value = details.get(name) if isinstance(details, dict) else None
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class Chunk:
    """What arrived together: the text joined, the last finish reason and usage, the tool calls'
    fragments (OpenAI's `delta.tool_calls` items), and the events themselves, as OpenAI's SSE
    (`raw`), for a client that is relayed the upstream's own chunks."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    tool_calls: tuple[Any, ...] = ()  # items as the upstream sent them: Answer.add_calls checks them
    raw: bytes = b""
    model: str | None = None  # the upstream's name for the model, read from its usage event


@dataclass(frozen=True)
class Completion:
    """What is asked of an LLM: OpenAI's chat messages, oldest first, the model, and every other
    field of an OpenAI request (`options`), which goes to the upstream as it came."""

    messages: list[dict[str, Any]]
    model: str
    options: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""
    include_usage: bool = True  # whether the client wants the usage chunk (the upstream is always asked)
    relay_raw: bool = False  # whether the client is relayed the upstream's own chunks (`Chunk.raw`)

    @property
    def temperature(self) -> float | None:
        value = self.options.get("temperature")
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    @property
    def max_tokens(self) -> int | None:
        value = self.options.get("max_completion_tokens", self.options.get("max_tokens"))
        return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Route:
    """Which upstream answered, the model it was asked for, and the attempts it took to get there."""

    upstream: str
    model: str
    attempts: int = 1


@dataclass(frozen=True)
class Completed:
    """A whole answer (`stream: false`): OpenAI's object as it came, and read."""

    raw: bytes
    body: dict[str, Any]
    route: Route | None = None


class StreamFailed(Exception):
    """The LLM stream broke after it started; `type` is the contract's error type."""

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(message)
        self.type = type_
        self.message = message


class ChunkStream(Protocol):
    """What `LLM.open()` returns: iterate it for chunks; `aclose()` releases the upstream."""

    def __aiter__(self) -> AsyncIterator[Chunk]: ...

    async def aclose(self) -> None: ...


class LLM(Protocol):
    name: str

    async def open(self, completion: Completion) -> ChunkStream: ...

    async def complete(self, completion: Completion) -> Completed: ...

    async def models(self) -> list[str]: ...

    async def embeddings(self, body: dict[str, Any], request_id: str) -> Completed: ...

    async def aclose(self) -> None: ...


def estimate_tokens(text: str) -> int:
    """About four characters a token, OpenAI's rule of thumb for English text."""
    return math.ceil(len(text) / 4) if text else 0


def text_of(content: Any) -> str:
    """A message's text: a string, or the text of its parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str))
    return ""


def estimate_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    # OpenAI's chat format adds about three tokens of framing per message, three for the reply.
    return sum(estimate_tokens(text_of(m.get("content"))) + 3 for m in messages) + 3
