"""The mock LLM: answers without an upstream (no OPENAI_API_KEY), word by word, deterministically.

It answers in four to six sentences about the prompt's subject, the same for the same
conversation, one word a chunk every `delay` seconds, honouring `max_tokens` (then
`finish_reason: "length"`) and reporting usage (one token a word).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
from collections.abc import AsyncGenerator

from gateway.llm import Chunk, ChunkStream, Completion, Usage, estimate_prompt_tokens

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
