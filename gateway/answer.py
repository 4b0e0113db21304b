"""An answer as it arrives: its text, its first token's time, finish reason and usage, and the
record's ending built from them (for a relayed stream and a `stream: false` answer alike)."""

from __future__ import annotations

import time

from gateway.llm import Usage, estimate_prompt_tokens, estimate_tokens
from gateway.store import Ending

UNFINISHED = ("upstream_error", "the upstream closed the stream before it finished")


class Answer:
    __slots__ = ("finish_reason", "first", "length", "messages", "parts", "started", "usage")

    def __init__(self, started: float, messages: list[dict[str, str]]) -> None:
        self.started = started  # perf_counter() when the request arrived
        self.messages = messages  # what was asked, for a usage estimate
        self.parts: list[str] = []
        self.length = 0  # characters (code points) so far: an SSE event's offset
        self.first: float | None = None
        self.finish_reason: str | None = None
        self.usage: Usage | None = None

    def add(self, text: str, now: float) -> None:
        if self.first is None:
            self.first = now
        self.parts.append(text)
        self.length += len(text)

    def text(self) -> str:
        return "".join(self.parts)

    @property
    def ttft(self) -> float | None:
        return self.first - self.started if self.first is not None else None

    def unfinished(self) -> tuple[str, str] | None:
        """The failure of a stream that ended without a finish reason."""
        return UNFINISHED if self.finish_reason is None else None

    def final_usage(self) -> Usage:
        """The upstream's usage; where it gave none, an estimate (and the record says so)."""
        if self.usage is None:
            self.usage = Usage(estimate_prompt_tokens(self.messages), estimate_tokens(self.text()), estimated=True)
        return self.usage

    def ending(self, status: str, error: str | None = None) -> Ending:
        usage = self.usage
        ttft = self.ttft
        return Ending(
            status=status,
            response=self.text(),
            error=error,
            ttft_ms=round(ttft * 1000, 3) if ttft is not None else None,
            duration_ms=round((time.perf_counter() - self.started) * 1000, 3),
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            usage_estimated=usage.estimated if usage else False,
        )
