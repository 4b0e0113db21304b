"""The LLM interface every backend speaks (each provider's client, the mock), and its chunk type.

An LLM's `open()` acquires a stream before anything is sent to the client (so a refusal can
still become a status code) and returns an async iterator of `Chunk`s. Closing it early
(`aclose()`) releases the upstream at once. A failure after the stream has started is raised
as `StreamFailed` from the iterator. `complete()` asks for the whole answer at once
(`stream: false`) and returns OpenAI's `chat.completion` object, read.

The gateway's own language is OpenAI's chat completions: a `Completion` holds chat messages and a
`Chunk` a chat stream's delta, whatever the upstream speaks. Each client also says which APIs it
serves as they are (`apis`): when the client's API is one of them and the client's request came
whole (`Completion.native`), the request goes as it came and the chunks carry the upstream's own
events (`Chunk.raw`), which the route relays untouched; otherwise the client translates.
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
    cached_tokens: int | None = None  # prompt_tokens_details.cached_tokens: cache reads
    reasoning_tokens: int | None = None  # completion_tokens_details.reasoning_tokens
    cache_creation_tokens: int | None = None  # cache writes (Anthropic's), counted in prompt_tokens too

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
        cache_creation_tokens=_count(prompt, "cache_creation_tokens"),
    )


def _count(details: Any, name: str) -> int | None:
    value = details.get(name) if isinstance(details, dict) else None
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class Chunk:
    """What arrived together: the text joined, the last finish reason and usage, the tool calls'
    fragments (OpenAI's `delta.tool_calls` items), the reasoning, and the events themselves, in the
    upstream's own API (`raw`), for a client of that API that is relayed them."""

    text: str = ""
    finish_reason: str | None = None  # OpenAI's names, whatever the upstream said
    usage: Usage | None = None
    tool_calls: tuple[Any, ...] = ()  # items as the upstream sent them: Answer.add_calls checks them
    raw: bytes = b""
    model: str | None = None  # the upstream's name for the model, read from its usage event
    reasoning: str = ""  # the model's reasoning text (`reasoning_content`; Anthropic's thinking)
    # Whole reasoning blocks that must go back to the upstream on the next turn, as Anthropic's API
    # takes them (`{"type": "thinking", "thinking", "signature"}` or `redacted_thinking`).
    thinking: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Completion:
    """What is asked of an LLM: OpenAI's chat messages, oldest first, the model, and every other
    field of an OpenAI request (`options`), which goes to the upstream as it came."""

    messages: list[dict[str, Any]]
    model: str
    options: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""
    include_usage: bool = True  # whether the client wants the usage chunk (the upstream is always asked)
    relay_raw: bool = False  # whether the client is relayed the upstream's own events (`Chunk.raw`)
    api: str = "chat"  # the API the client speaks: chat, messages (Anthropic's) or responses
    native: dict[str, Any] | None = None  # the client's request as it came, for an upstream of its API
    headers: tuple[tuple[str, str], ...] = ()  # the client's headers such an upstream gets (anthropic-beta…)

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
    """Which upstream answered, the model it was asked for, the attempts it took to get there, the
    API it was asked in (its events' and answer's, `raw`), and what of the request that API had no
    place for (a client's `left_out(completion)`, when it translates)."""

    upstream: str
    model: str
    attempts: int = 1
    api: str = "chat"
    left_out: tuple[str, ...] = ()


@dataclass(frozen=True)
class Completed:
    """A whole answer (`stream: false`): as the upstream sent it (`raw`, in `route.api`), and as
    OpenAI's `chat.completion` object (`body`, what the record reads)."""

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
    apis: frozenset[str]  # the APIs whose requests it sends as they came, and whose events it relays

    async def open(self, completion: Completion) -> ChunkStream: ...

    async def complete(self, completion: Completion) -> Completed: ...

    async def models(self) -> list[str]: ...

    async def embeddings(self, body: dict[str, Any], request_id: str) -> Completed: ...

    async def aclose(self) -> None: ...


def speaks(llm: LLM, completion: Completion) -> str:
    """The API an upstream is asked a completion in: the client's own, when the upstream serves it
    and the request came whole; else the upstream's first (chat completions for most)."""
    if completion.native is not None and completion.api in llm.apis:
        return completion.api
    return "chat" if "chat" in llm.apis else next(iter(sorted(llm.apis)))


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
