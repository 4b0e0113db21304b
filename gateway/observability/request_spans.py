"""The server span of each HTTP request (OpenTelemetry, when tracing.py has it on): named by the
route template (`GET /history/{record_id}`), continuing the client's `traceparent`, with the
status, the request id, the client address and the caller's name. The outermost middleware, so
everything inside, the access line included, runs in its context.
"""

from __future__ import annotations

from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.observability import logs, tracing


class TracingMiddleware:
    """A server span for each HTTP request, continuing the client's `traceparent`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracer = tracing.tracer
        if tracer is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope.get("headers", ())}
        parent = propagate.extract(headers)
        method = scope["method"]
        span = tracer.start_span(
            method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope["path"], "url.scheme": scope["scheme"]},
        )
        token = context.attach(trace.set_span_in_context(span, parent))
        try:
            await self.app(scope, receive, send)  # not wrapped: the access line's fields say the status
        except BaseException as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            template = getattr(scope.get("route"), "path", None)
            if template:
                span.update_name(f"{method} {template}")
                span.set_attribute("http.route", template)
            found = logs.fields(scope)
            status = found.get("status") or 0
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            for attribute, name in (("gateway.request_id", "request_id"), ("client.address", "client")):
                if found.get(name):
                    span.set_attribute(attribute, str(found[name]))
            if found.get("key"):
                span.set_attribute("enduser.id", str(found["key"]))
            span.end()
            context.detach(token)
