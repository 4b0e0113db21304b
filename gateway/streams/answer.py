"""An answer as it arrives: its text, tool calls (assembled from their fragments), reasoning (and
the thinking blocks that must go back upstream), first token's time, finish reason and usage, and
the record's ending built from them (for a relayed stream and a `stream: false` answer alike)."""

from __future__ import annotations

import time
from typing import Any

from gateway.history.messages import dumps, tool_text
from gateway.history.store import Ending
from gateway.upstreams.llm import Route, Usage, estimate_prompt_tokens, estimate_tokens, text_of, usage_of

UNFINISHED = ("upstream_error", "the upstream closed the stream before it finished")


class _Call:
    __slots__ = ("arguments", "id", "name", "type")

    def __init__(self) -> None:
        self.id = ""
        self.type = "function"
        self.name = ""
        self.arguments: list[str] = []

    def whole(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "function": {"name": self.name, "arguments": "".join(self.arguments)}}


def call_order(index: Any) -> tuple[int, str]:
    return (index, "") if isinstance(index, int) else (1 << 30, str(index))


class Answer:
    __slots__ = (
        "calls",
        "finish_reason",
        "first",
        "length",
        "messages",
        "parts",
        "reasoning",
        "route",
        "started",
        "thinking",
        "usage",
    )

    def __init__(self, started: float, messages: list[dict[str, Any]], route: Route | None = None) -> None:
        self.route = route  # which upstream answers
        self.started = started  # perf_counter() when the request arrived
        self.messages = messages  # what was asked, for a usage estimate
        self.parts: list[str] = []
        self.length = 0  # characters (code points) so far: an SSE event's offset
        self.first: float | None = None
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.calls: dict[Any, _Call] = {}  # by index
        self.reasoning: list[str] = []
        self.thinking: list[dict[str, Any]] = []  # whole blocks, signed, as they ended

    def add(self, text: str, now: float) -> None:
        if self.first is None:
            self.first = now
        self.parts.append(text)
        self.length += len(text)

    def add_reasoning(self, text: str, thinking: tuple[dict[str, Any], ...], now: float) -> None:
        if self.first is None:
            self.first = now
        if text:
            self.reasoning.append(text)
        self.thinking.extend(thinking)

    def add_calls(self, fragments: tuple[Any, ...], now: float) -> None:
        """Tool-call fragments as OpenAI streams them: the first of each call carries its index, id,
        type and name; the arguments arrive in pieces (kept as a list, joined once at the end)."""
        if self.first is None:
            self.first = now
        calls = self.calls
        for fragment in fragments:
            if not isinstance(fragment, dict):
                continue
            index = fragment.get("index", 0)
            call = calls.get(index)
            if call is None:
                call = calls[index] = _Call()
            function = fragment.get("function")
            if isinstance(function, dict):
                arguments = function.get("arguments")
                if isinstance(arguments, str):
                    call.arguments.append(arguments)
                if len(fragment) == 2 and len(function) == 1:
                    continue  # the common fragment: an index and a piece of the arguments
                if isinstance(function.get("name"), str):
                    call.name += function["name"]
            if isinstance(fragment.get("id"), str):
                call.id = fragment["id"]
            if isinstance(fragment.get("type"), str):
                call.type = fragment["type"]

    def take_message(self, body: dict[str, Any], now: float) -> None:
        """A whole answer (`stream: false`): its first choice's message, finish reason and usage."""
        choices = body.get("choices")
        choice: dict[str, Any] = {}
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            choice = choices[0]
        message = choice.get("message")
        if not isinstance(message, dict):
            message = {}
        reasoning = message.get("reasoning_content")
        blocks = message.get("thinking_blocks")
        thinking = tuple(b for b in blocks if isinstance(b, dict)) if isinstance(blocks, list) else ()
        if (isinstance(reasoning, str) and reasoning) or thinking:
            self.add_reasoning(reasoning if isinstance(reasoning, str) else "", thinking, now)
        text = text_of(message.get("content"))
        if text:
            self.add(text, now)
        calls = message.get("tool_calls")
        if isinstance(calls, list):
            self.add_calls(tuple({**call, "index": i} for i, call in enumerate(calls) if isinstance(call, dict)), now)
        finish = choice.get("finish_reason")
        self.finish_reason = finish if isinstance(finish, str) else None
        self.usage = usage_of(body.get("usage"))

    def text(self) -> str:
        return "".join(self.parts)

    def tool_calls(self) -> list[dict[str, Any]]:
        """The calls as OpenAI gives them whole, in index order."""
        return [self.calls[index].whole() for index in sorted(self.calls, key=call_order)]

    @property
    def ttft(self) -> float | None:
        return self.first - self.started if self.first is not None else None

    def unfinished(self) -> tuple[str, str] | None:
        """The failure of a stream that ended without a finish reason."""
        return UNFINISHED if self.finish_reason is None else None

    def final_usage(self) -> Usage:
        """The upstream's usage; where it gave none, an estimate (and the record says so)."""
        if self.usage is None:
            generated = self.text() + "".join("".join(c.arguments) for c in self.calls.values())
            self.usage = Usage(estimate_prompt_tokens(self.messages), estimate_tokens(generated), estimated=True)
        return self.usage

    def ending(self, status: str, error: str | None = None) -> Ending:
        usage = self.usage
        ttft = self.ttft
        calls = self.tool_calls()
        return Ending(
            status=status,
            response=self.text(),
            error=error,
            ttft_ms=round(ttft * 1000, 3) if ttft is not None else None,
            duration_ms=round((time.perf_counter() - self.started) * 1000, 3),
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            usage_estimated=usage.estimated if usage else False,
            tool_calls=dumps(calls),
            finish_reason=self.finish_reason,
            cached_tokens=usage.cached_tokens if usage else None,
            reasoning_tokens=usage.reasoning_tokens if usage else None,
            cache_creation_tokens=usage.cache_creation_tokens if usage else None,
            tool_text=tool_text(calls) or None,
            reasoning="".join(self.reasoning) or None,
            thinking=dumps(self.thinking),
            upstream=self.route.upstream if self.route else None,
            upstream_model=self.route.model if self.route else None,
            attempts=self.route.attempts if self.route else None,
        )
