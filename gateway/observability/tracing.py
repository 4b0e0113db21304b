"""OpenTelemetry traces, off unless the standard variables turn them on.

On when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (and
`OTEL_SDK_DISABLED` is not `true`, nor `OTEL_TRACES_EXPORTER` `none`; settings.py decides): spans go over OTLP/HTTP,
in batches, from the SDK's own thread. Everything else is the SDK's to read, as in any OTel
service: `OTEL_SERVICE_NAME` (here `llm-gateway` when unset), `OTEL_RESOURCE_ATTRIBUTES`,
`OTEL_TRACES_SAMPLER`/`_ARG`, `OTEL_PROPAGATORS`, `OTEL_EXPORTER_OTLP_HEADERS`…

The spans: one server span per request, named by its route template (request_spans.py, the
outermost middleware, so the access line carries its ids); a client span per upstream attempt
with the GenAI conventions (gateway/upstreams/spans.py); a span per database write batch (db/groupcommit.py).

`tracer` is the process's tracer, None when tracing is off: the code that makes spans tests it
first, so with tracing off a request pays one attribute read at each of those places. It is this
module's and not OTel's global provider because that one can be set once per process, and the
tests start many gateways.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

tracer: trace.Tracer | None = None
_provider: TracerProvider | None = None
DEFAULT_SERVICE_NAME = "llm-gateway"


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
