"""The client span of each upstream attempt, with OpenTelemetry's GenAI conventions: started before
the request, current while it is made (so the upstream is sent its `traceparent`), told each
chunk, and ended when the answer has been read (a stream's when it closes). Made only with tracing
on (`tracing.tracer` set)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from gateway.observability import tracing
from gateway.upstreams.llm import Chunk, StreamFailed
from gateway.upstreams.providers.catalogue import otel_name


class Attempt:
    """The client span of one upstream attempt (GenAI conventions): started before the request,
    current while it is made (so the upstream gets its `traceparent`), and ended when the answer
    has been read, a stream when it closes."""

    def __init__(self, operation: str, provider: str, upstream: str, model: str, attempt: int) -> None:
        tracer = tracing.tracer
        assert tracer is not None
        self.started = time.perf_counter()
        self.first: float | None = None
        self.finish_reasons: list[str] = []
        self.span: Span = tracer.start_span(
            f"{operation} {model}",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": operation,
                "gen_ai.provider.name": otel_name(provider),
                "gen_ai.system": otel_name(provider),
                "gen_ai.request.model": model,
                "gateway.upstream": upstream,
                "gateway.attempt": attempt,
            },
        )

    def current(self) -> Any:
        return trace.use_span(self.span, end_on_exit=False)

    def chunk(self, chunk: Chunk) -> None:
        """What a streamed chunk says: its first one is the first token's event."""
        if self.first is None and (chunk.text or chunk.tool_calls):
            self.first = time.perf_counter()
            ttft = self.first - self.started
            self.span.add_event("gen_ai.first_token", {"gen_ai.response.time_to_first_token": ttft})
        if chunk.finish_reason and chunk.finish_reason not in self.finish_reasons:
            self.finish_reasons.append(chunk.finish_reason)
        if chunk.usage is not None:
            self.usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
        if chunk.model:
            self.span.set_attribute("gen_ai.response.model", chunk.model)

    def usage(self, input_tokens: int, output_tokens: int | None) -> None:
        self.span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
        if output_tokens is not None:
            self.span.set_attribute("gen_ai.usage.output_tokens", output_tokens)

    def answered(self, body: Mapping[str, Any]) -> None:
        """A whole answer (`stream: false`, embeddings), read for the span, then the span's end."""
        if isinstance(body.get("model"), str):
            self.span.set_attribute("gen_ai.response.model", body["model"])
        usage = body.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
            output = usage.get("completion_tokens")
            self.usage(usage["prompt_tokens"], output if isinstance(output, int) else None)
        for choice in body.get("choices") or ():
            if isinstance(choice, dict) and isinstance(choice.get("finish_reason"), str):
                self.finish_reasons.append(choice["finish_reason"])
        self.end()

    def end(self, error: str | None = None) -> None:
        """The span's end, once: a stream that failed is ended again when it is closed."""
        if not self.span.is_recording():
            return
        if self.finish_reasons:
            self.span.set_attribute("gen_ai.response.finish_reasons", self.finish_reasons)
        if error is not None:
            self.span.set_attribute("error.type", error)
            self.span.set_status(Status(StatusCode.ERROR, error))
        self.span.end()


class Traced:
    """A stream's chunks, each told to its attempt's span."""

    def __init__(self, chunks: AsyncIterator[Chunk], attempt: Attempt) -> None:
        self.chunks = chunks
        self.attempt = attempt

    def __aiter__(self) -> Traced:
        return self

    async def __anext__(self) -> Chunk:
        try:
            chunk = await self.chunks.__anext__()
        except StreamFailed as failure:
            self.attempt.end(failure.type)
            raise
        self.attempt.chunk(chunk)
        return chunk
