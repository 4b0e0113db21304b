"""The LLM interface every backend speaks (the OpenAI client, the mock), and its chunk type.

An LLM's `open()` acquires a stream before anything is sent to the client (so a refusal can
still become a status code) and returns an async generator of `Chunk`s. Closing it early
(`aclose()`) releases the upstream at once. A failure after the stream has started is raised
as `StreamFailed` from the generator.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Chunk:
    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclass(frozen=True)
class Completion:
    """What is asked of an LLM: OpenAI's chat messages, oldest first, and sampling settings."""

    messages: list[dict[str, str]]
    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    request_id: str = ""
    stop: list[str] = field(default_factory=list)
    user: str | None = None


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

    async def aclose(self) -> None: ...


def estimate_tokens(text: str) -> int:
    """About four characters a token, OpenAI's rule of thumb for English text."""
    return math.ceil(len(text) / 4) if text else 0


def estimate_prompt_tokens(messages: list[dict[str, str]]) -> int:
    # OpenAI's chat format adds about three tokens of framing per message, three for the reply.
    return sum(estimate_tokens(m.get("content", "")) + 3 for m in messages) + 3
