"""OpenTelemetry traces, off unless the standard variables turn them on.

On when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (and
`OTEL_SDK_DISABLED` is not `true`, nor `OTEL_TRACES_EXPORTER` `none`; settings.py decides): spans go over OTLP/HTTP,
in batches, from the SDK's own thread. Everything else is the SDK's to read, as in any OTel
service: `OTEL_SERVICE_NAME` (here `llm-gateway` when unset), `OTEL_RESOURCE_ATTRIBUTES`,
`OTEL_TRACES_SAMPLER`/`_ARG`, `OTEL_PROPAGATORS`, `OTEL_EXPORTER_OTLP_HEADERS`…

The spans: one server span per request, named by its route template (request_spans.py, the
outermost middleware, so the access line carries its ids); a client span per upstream attempt
with the GenAI conventions (`Attempt`, here); a span per database write batch (groupcommit.py).

`tracer` is the process's tracer, None when tracing is off: the code that makes spans tests it
first, so with tracing off a request pays one attribute read at each of those places. It is this
module's and not OTel's global provider because that one can be set once per process, and the
tests start many gateways.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from gateway.llm import Chunk, StreamFailed

tracer: trace.Tracer | None = None
_provider: TracerProvider | None = None
DEFAULT_SERVICE_NAME = "llm-gateway"
# gen_ai.provider.name for each provider of config.py (the conventions' names where they have one).
PROVIDER_NAMES = {"openai": "openai", "azure": "azure.ai.openai", "hosted_vllm": "vllm", "mock": "mock"}


def start(variables: Iterable[tuple[str, str]]) -> None:
    """Tracing on, exporting over OTLP/HTTP, as the OTEL_* variables say. The SDK reads them from
    the process's environment as it builds the exporter, the sampler and the resource: those from
    the `.env` file are in it for that while, then taken out again."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    added = [name for name, _ in variables if name not in os.environ]
    os.environ.update({name: value for name, value in variables if name in added})
    try:
        resource = Resource.create()
        if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
            resource = resource.merge(Resource({"service.name": DEFAULT_SERVICE_NAME}))
        provider = TracerProvider(resource=resource)  # its sampler: OTEL_TRACES_SAMPLER
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    finally:
        for name in added:
            os.environ.pop(name, None)
    install(provider)


def install(provider: TracerProvider) -> None:
    """This provider's tracer for every span from now on (the one before it is shut down)."""
    global tracer, _provider
    if _provider is not None and _provider is not provider:
        _provider.shutdown()
    _provider = provider
    tracer = provider.get_tracer("gateway")


def stop() -> None:
    """Export what is left and stop (at shutdown, after the last request)."""
    global tracer, _provider
    provider, tracer, _provider = _provider, None, None
    if provider is not None:
        provider.shutdown()


def span_context() -> trace.SpanContext | None:
    """The current span's context, or None outside a recorded span."""
    found = trace.get_current_span().get_span_context()
    return found if found.is_valid else None


def ids() -> tuple[str, str] | None:
    """The current span's trace and span ids, as hex."""
    found = span_context()
    return None if found is None else (format(found.trace_id, "032x"), format(found.span_id, "016x"))


def write_span(operation: str, table: str, system: str, rows: int, links: list[trace.SpanContext] | None) -> Any:
    """A database write's span, made current: a batch's (`links` given) in a trace of its own."""
    assert tracer is not None
    return tracer.start_as_current_span(
        f"{operation} {table}",
        context=None if links is None else Context(),
        kind=SpanKind.CLIENT,
        attributes={
            "db.system.name": system,
            "db.operation.name": operation,
            "db.collection.name": table,
            "db.operation.batch.size": rows,
        },
        links=[trace.Link(link) for link in links or ()],
    )


def trace_id() -> str | None:
    current = ids()
    return None if current is None else current[0]


def inject(headers: list[tuple[bytes, bytes]]) -> None:
    """The current trace's `traceparent` (and whatever else OTEL_PROPAGATORS carries), added."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    headers.extend((name.encode("latin-1"), value.encode("latin-1")) for name, value in carrier.items())


class Attempt:
    """The client span of one upstream attempt (GenAI conventions): started before the request,
    current while it is made (so the upstream gets its `traceparent`), and ended when the answer
    has been read, a stream when it closes."""

    def __init__(self, operation: str, provider: str, upstream: str, model: str, attempt: int) -> None:
        assert tracer is not None
        self.started = time.perf_counter()
        self.first: float | None = None
        self.finish_reasons: list[str] = []
        self.span: Span = tracer.start_span(
            f"{operation} {model}",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": operation,
                "gen_ai.provider.name": PROVIDER_NAMES.get(provider, provider),
                "gen_ai.system": PROVIDER_NAMES.get(provider, provider),
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
