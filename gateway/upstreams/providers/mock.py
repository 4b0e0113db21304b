"""The mock LLM: answers without an upstream (no OPENAI_API_KEY), deterministically, as OpenAI would.

In text it answers in four to six sentences about the prompt's subject, the same for the same
conversation, one word a chunk every `delay` seconds, honouring `max_tokens` (then
`finish_reason: "length"`) and reporting usage (one token a word). Given `tools` and a
`tool_choice` that requires or allows one, it calls a tool (the one `tool_choice` names, else the
first one the user's last message names as a word, else the first) with
arguments that satisfy its JSON schema, streamed in fragments as OpenAI streams them; after a
tool's result it answers in text. Given `response_format` `json_schema`, it answers with JSON
that validates against the schema (`json_object`: a JSON object). Its chunks carry OpenAI's own
events (`Chunk.raw`), so `/v1` relays it as it relays an upstream.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import time
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.upstreams.llm import Chunk, ChunkStream, Completed, Completion, Usage, estimate_prompt_tokens, text_of
from gateway.upstreams.providers.examples import example

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


def seed_of(messages: list[dict[str, Any]]) -> bytes:
    return hashlib.sha256(repr(messages).encode()).digest()


def mock_answer(messages: list[dict[str, Any]]) -> str:
    """A plausible multi-sentence answer, the same for the same conversation."""
    last = next((text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    seed = seed_of(messages)
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


@dataclass(frozen=True)
class Call:
    id: str
    name: str
    arguments: str


def _function_tools(completion: Completion) -> list[dict[str, Any]]:
    tools = completion.options.get("tools")
    return [
        tool["function"]
        for tool in tools or ()
        if isinstance(tool, dict)
        and tool.get("type", "function") == "function"
        and isinstance(tool.get("function"), dict)
    ]


def _named_in_prompt(tools: list[dict[str, Any]], messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A tool the last user message names as a word ("list the files using bash"), its last text
    part first, so a client offering many tools (Claude Code's first is its subagent) gets the one
    asked for."""
    content = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), "")
    parts = [content] if isinstance(content, str) else [text_of([part]) for part in content or ()]
    for said in reversed(parts):
        words = set(re.findall(r"[\w-]+", said.lower()))
        named = next((tool for tool in tools if str(tool.get("name", "")).lower() in words), None)
        if named is not None:
            return named
    return None


def plan_call(completion: Completion) -> Call | None:
    """The tool the mock calls, if any: tools given, a tool_choice that allows one, and no tool
    result just given."""
    tools = _function_tools(completion)
    choice = completion.options.get("tool_choice", "auto")
    if not tools or choice == "none" or completion.messages[-1].get("role") == "tool":
        return None
    function = choice.get("function") if isinstance(choice, dict) else None
    if isinstance(function, dict):
        chosen = next((tool for tool in tools if tool.get("name") == function.get("name")), tools[0])
    else:
        chosen = _named_in_prompt(tools, completion.messages) or tools[0]
    seed = seed_of(completion.messages)
    arguments = example(chosen.get("parameters") or {"type": "object"}, random.Random(seed))
    return Call(f"call_{seed.hex()[:24]}", str(chosen.get("name")), json.dumps(arguments))


def answer_text(completion: Completion) -> str:
    """The text the mock answers: JSON for a `response_format` that asks for it; after a tool's
    result, what it returned; else `mock_answer`."""
    last = completion.messages[-1]
    response_format = completion.options.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_schema" and isinstance(response_format, dict):
        described = response_format.get("json_schema")
        schema = described.get("schema") if isinstance(described, dict) else None
        return json.dumps(example(schema or {"type": "object"}, random.Random(seed_of(completion.messages))))
    if kind == "json_object":
        return json.dumps({"answer": mock_answer(completion.messages)})
    if last.get("role") == "tool":
        return f"The tool answered: {text_of(last.get('content'))}"
    return mock_answer(completion.messages)


def _fragments(text: str, size: int = 8) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


class MockLLM:
    name = "mock"
    apis = frozenset({"chat"})

    def __init__(self, delay: float = 0.02, model: str = "gpt-4o-mini") -> None:
        self.delay = delay
        self.model = model

    async def open(self, completion: Completion) -> ChunkStream:
        return self._stream(completion)

    async def complete(self, completion: Completion) -> Completed:
        call = plan_call(completion)
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        if call is not None:
            message["tool_calls"] = [
                {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            ]
            finish, tokens = "tool_calls", len(call.arguments.split())
        else:
            words, finish = self._words(completion)
            message["content"], tokens = "".join(words), len(words)
        body = {
            "id": f"chatcmpl-mock{seed_of(completion.messages).hex()[:20]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": completion.model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": self._usage(completion, tokens),
        }
        return Completed(orjson.dumps(body), body)

    async def models(self) -> list[str]:
        return [self.model]

    async def embeddings(self, body: dict[str, Any], request_id: str) -> Completed:
        """Deterministic vectors: the same for the same text, `dimensions` long (default 8)."""
        texts = body.get("input")
        inputs = texts if isinstance(texts, list) else [texts]
        dimensions = body.get("dimensions")
        size = dimensions if isinstance(dimensions, int) and 0 < dimensions <= 4096 else 8
        data = []
        for index, text in enumerate(inputs):
            rng = random.Random(hashlib.sha256(repr(text).encode()).digest())
            data.append({"object": "embedding", "index": index, "embedding": [rng.uniform(-1, 1) for _ in range(size)]})
        tokens = sum(len(str(text).split()) for text in inputs)
        answer = {
            "object": "list",
            "data": data,
            "model": body.get("model", self.model),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return Completed(orjson.dumps(answer), answer)

    def _words(self, completion: Completion) -> tuple[list[str], str]:
        # Spaces lead each word, as they lead OpenAI's tokens.
        words = re.findall(r"\s*\S+", answer_text(completion))
        limit = completion.max_tokens
        if limit is not None and len(words) > limit:
            return words[:limit], "length"
        return words, "stop"

    def _usage(self, completion: Completion, tokens: int) -> dict[str, Any]:
        prompt = estimate_prompt_tokens(completion.messages)
        return {"prompt_tokens": prompt, "completion_tokens": tokens, "total_tokens": prompt + tokens}

    async def _stream(self, completion: Completion) -> AsyncGenerator[Chunk, None]:
        head: dict[str, Any] = {"id": f"chatcmpl-mock{seed_of(completion.messages).hex()[:20]}"}
        head |= {"object": "chat.completion.chunk", "created": int(time.time()), "model": completion.model}

        def event(delta: dict[str, Any] | None, finish: str | None = None, usage: Any = None) -> bytes:
            choices = [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
            return b"data: " + orjson.dumps({**head, "choices": choices, "usage": usage}) + b"\n\n"

        call = plan_call(completion)
        if call is None:
            words, finish = self._words(completion)
            yield Chunk(raw=event({"role": "assistant", "content": "", "refusal": None}))
            for word in words:
                await asyncio.sleep(self.delay)
                yield Chunk(text=word, raw=event({"content": word}))
            tokens = len(words)
        else:
            first = {"index": 0, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
            yield Chunk(
                tool_calls=(first,),
                raw=event({"role": "assistant", "content": None, "refusal": None, "tool_calls": [first]}),
            )
            for piece in _fragments(call.arguments):
                await asyncio.sleep(self.delay)
                fragment = {"index": 0, "function": {"arguments": piece}}
                yield Chunk(tool_calls=(fragment,), raw=event({"tool_calls": [fragment]}))
            finish, tokens = "tool_calls", len(call.arguments.split())
        yield Chunk(finish_reason=finish, raw=event({}, finish))
        usage = self._usage(completion, tokens)
        raw = event(None, usage=usage) if completion.include_usage else b""
        yield Chunk(usage=Usage(usage["prompt_tokens"], tokens), raw=raw, model=completion.model)

    async def aclose(self) -> None:
        return None
