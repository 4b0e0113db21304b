"""The LLM interface every backend speaks, its chunk type, and the mock LLM.

An LLM's `open()` acquires a stream before anything is sent to the client (so a refusal can
still become a status code) and returns an async generator of `Chunk`s. Closing it early
(`aclose()`) releases the upstream at once. A failure after the stream has started is raised
as `StreamFailed` from the generator.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import re
from collections.abc import AsyncGenerator, AsyncIterator
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


_STOP_WORDS = frozenset(
    "a an and are as at be but by can could do does for from had has have how i if in is it "
    "its me my of on or our please should so tell that the their them then there these this "
    "to us was we what when where which who why will with would you your about explain hello hi "
    "hey there thanks".split()
)

_OPENINGS = (
    "Good question about {topic}.",
    "Here is a short answer about {topic}.",
    "Let me walk through {topic} step by step.",
    "There are a few things worth knowing about {topic}.",
)
_BODY = (
    "The key idea is to start from what you already know and build up one piece at a time.",
    "Most of the difficulty comes from a handful of details that are easy to overlook at first.",
    "A useful way to think about {topic} is as a set of trade-offs rather than a single rule.",
    "In practice, small experiments tell you more than long planning sessions do.",
    "It helps to write down your assumptions, because some of them will turn out to be wrong.",
    "People often get stuck on terminology, but the underlying concepts are fairly simple.",
    "If something behaves unexpectedly, check the inputs before you question the method.",
    "The same pattern shows up in many places once you learn to recognise it.",
    "Measure before you optimise, and keep the simplest version that does the job.",
    "Good examples are worth more than abstract definitions when you are learning {topic}.",
)
_CLOSINGS = (
    "I hope that helps; ask a follow-up if you want more detail.",
    "Let me know which part you would like to explore further.",
    "That should be enough to get started with {topic}.",
)


_GREETINGS = (
    "Hello! I am the gateway's built-in mock model, here until an OpenAI key is configured.",
    "Hi there! This answer comes from the gateway's mock model.",
)


def _topic(text: str) -> str | None:
    words = [w for w in re.findall(r"[\w'-]+", text) if w.lower() not in _STOP_WORDS]
    return " ".join(words[:4]) if words else None


def mock_answer(messages: list[dict[str, str]]) -> str:
    """A plausible multi-sentence answer, the same for the same conversation."""
    last = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    seed = hashlib.sha256(repr(messages).encode()).digest()
    rng = random.Random(seed)
    topic = _topic(last)
    if topic is None:  # a greeting, or nothing but small words: answer in kind
        topic = "whatever you would like to discuss"
        sentences = [rng.choice(_GREETINGS)]
        sentences += rng.sample(_BODY[:1] + _BODY[3:5], 2)
        sentences.append("What would you like to talk about?")
        return " ".join(s.format(topic=topic) for s in sentences)
    sentences = [rng.choice(_OPENINGS)]
    sentences += rng.sample(_BODY, rng.randint(2, 4))
    sentences.append(rng.choice(_CLOSINGS))
    return " ".join(s.format(topic=topic) for s in sentences)


class MockLLM:
    """Streams `mock_answer()` word by word, `delay` seconds apart, and reports usage."""

    name = "mock"

    def __init__(self, delay: float = 0.02) -> None:
        self.delay = delay

    async def open(self, completion: Completion) -> ChunkStream:
        return self._stream(completion)

    async def _stream(self, completion: Completion) -> AsyncGenerator[Chunk, None]:
        # Spaces lead each word, as they lead OpenAI's tokens.
        words = re.findall(r"\s*\S+", mock_answer(completion.messages))
        limit = completion.max_tokens
        finish = "stop"
        if limit is not None and len(words) > limit:
            words, finish = words[:limit], "length"
        prompt_tokens = estimate_prompt_tokens(completion.messages)
        for word in words:
            await asyncio.sleep(self.delay)
            yield Chunk(text=word)
        yield Chunk(finish_reason=finish)
        yield Chunk(usage=Usage(prompt_tokens, len(words)))

    async def aclose(self) -> None:
        return None
