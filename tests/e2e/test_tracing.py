"""Tracing through a real uvicorn process exporting to a real OTLP/HTTP receiver: service name,
parentage, GenAI attributes, spans flushed on SIGTERM, trace ids in log lines."""

from __future__ import annotations

import time
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.observability.test_tracing import CLIENT_SPAN, CLIENT_TRACE, TRACEPARENT
from tests.servers import ThreadedHTTP


class Receiver:
    """An OTLP/HTTP trace receiver: what arrives at /v1/traces, decoded."""

    def __init__(self) -> None:
        self.server = ThreadedHTTP(self.handle)
        self.batches: list[ExportTraceServiceRequest] = []

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        if method == "POST" and path == "/v1/traces":
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            self.batches.append(request)
            return 200, "application/x-protobuf", b""
        return 404, "text/plain", b""

    def spans(self) -> list[tuple[str, Any, dict[str, Any]]]:
        found = []
        for batch in self.batches:
            for resource_spans in batch.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        found.append((span.name, span, resource))
        return found


def test_a_real_gateway_exports_to_a_real_otlp_receiver(uvicorn_gateway: Any) -> None:
    receiver = Receiver()
    with receiver.server:
        server = uvicorn_gateway(
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.server.url,
            OTEL_SERVICE_NAME="gateway-under-test",
            OTEL_BSP_SCHEDULE_DELAY="100",
        )
        streamed = httpx.post(server.url + "/stream", json={"prompt": "trace me"}, headers=TRACEPARENT)
        assert streamed.status_code == 200
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(n == "POST /stream" for n, _, _ in receiver.spans()):
            time.sleep(0.05)
        names = {name: (span, resource) for name, span, resource in receiver.spans()}
        assert {"POST /stream", "chat gpt-4o-mini", "INSERT records", "UPDATE records"} <= set(names), names
        span, resource = names["POST /stream"]
        assert resource["service.name"] == "gateway-under-test"
        assert span.trace_id.hex() == CLIENT_TRACE and span.parent_span_id.hex() == CLIENT_SPAN
        attempt, _ = names["chat gpt-4o-mini"]
        assert attempt.parent_span_id == span.span_id
        attributes = {a.key: a.value for a in attempt.attributes}
        assert attributes["gen_ai.operation.name"].string_value == "chat"
        assert attributes["gen_ai.usage.output_tokens"].int_value > 0
        assert [event.name for event in attempt.events] == ["gen_ai.first_token"]
        before = len(receiver.spans())
        httpx.get(server.url + "/health")  # an open path: traced too
        server.stop()  # SIGTERM: what is left is exported before the process ends
        assert any(name == "GET /health" for name, _, _ in receiver.spans()[before:])
        logged = [line for line in server.log_lines() if line.get("path") == "/stream"]
        assert logged and logged[0]["trace_id"] == CLIENT_TRACE
