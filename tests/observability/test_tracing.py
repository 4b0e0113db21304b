"""Tracing, against the SDK's in-memory exporter: off unless an OTLP endpoint is set; on, a server
span per request named by its route, continuing the client's traceparent; a GenAI client span per
upstream attempt, its traceparent sent upstream; a span per database write; trace ids in log lines
and in the record. Both databases."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode

from gateway.db.groupcommit import GroupCommit
from gateway.observability import tracing
from gateway.observability.request_spans import TracingMiddleware
from gateway.settings import Settings
from tests.conftest import FakeOpenAI, Gateway

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


CLIENT_SPAN = "00f067aa0ba902b7"


TRACEPARENT = {"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"}


ON = (("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),)  # turns tracing on; replaced by memory


V1 = {"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    tracing.stop()


async def traced(make_gateway: Any, exporter: InMemorySpanExporter, **overrides: Any) -> Gateway:
    gateway: Gateway = await make_gateway(otel=ON, log_level="INFO", **overrides)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    return gateway


def by_name(found: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in found if span.name == name]


def attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


def hex_ids(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return format(span.context.trace_id, "032x"), format(span.context.span_id, "016x")


async def test_a_stream_is_a_server_span_with_an_attempt_and_its_writes(
    make_gateway: Any, spans: InMemorySpanExporter
) -> None:
    gateway = await traced(make_gateway, spans)
    [handler] = logging.getLogger().handlers  # the gateway's one handler (logs.configure)
    assert isinstance(handler, logging.StreamHandler)
    printed = io.StringIO()
    previous = handler.setStream(printed)
    response = await gateway.post("/stream", json={"prompt": "hello there"}, headers=TRACEPARENT)
    assert response.status_code == 200
    record_id = response.headers["x-record-id"]
    found = spans.get_finished_spans()
    [server] = by_name(found, "POST /stream")
    assert server.kind == SpanKind.SERVER
    assert server.parent is not None and format(server.parent.span_id, "016x") == CLIENT_SPAN
    trace_id, server_id = hex_ids(server)
    assert trace_id == CLIENT_TRACE  # the client's trace, continued
    attributes = attrs(server)
    assert attributes["http.route"] == "/stream" and attributes["http.response.status_code"] == 200
    assert attributes["gateway.request_id"] == response.headers["x-request-id"]
    [attempt] = by_name(found, "chat gpt-4o-mini")
    assert attempt.kind == SpanKind.CLIENT and attempt.parent is not None
    assert format(attempt.parent.span_id, "016x") == server_id
    gen_ai = attrs(attempt)
    assert gen_ai["gen_ai.operation.name"] == "chat"
    assert gen_ai["gen_ai.provider.name"] == gen_ai["gen_ai.system"] == "mock"
    assert gen_ai["gen_ai.request.model"] == gen_ai["gen_ai.response.model"] == "gpt-4o-mini"
    assert gen_ai["gen_ai.usage.input_tokens"] > 0 and gen_ai["gen_ai.usage.output_tokens"] > 0
    assert gen_ai["gen_ai.response.finish_reasons"] == ("stop",)
    [first] = [event for event in attempt.events if event.name == "gen_ai.first_token"]
    assert 0 <= attrs(first)["gen_ai.response.time_to_first_token"] < 5
    assert attempt.end_time is not None and server.end_time is not None and attempt.end_time <= server.end_time
    writes = by_name(found, "INSERT records") + by_name(found, "UPDATE records")
    assert len(writes) == 2
    for write in writes:  # lone writes: children of the request's span
        assert hex_ids(write)[0] == CLIENT_TRACE
        assert attrs(write)["db.operation.batch.size"] == 1
    record = (await gateway.get(f"/history/{record_id}")).json()
    assert record["trace_id"] == CLIENT_TRACE
    handler.setStream(previous)
    lines = [json.loads(line) for line in printed.getvalue().splitlines()]
    [access] = [line for line in lines if line.get("logger") == "gateway.access" and line.get("path") == "/stream"]
    assert (access["trace_id"], access["span_id"]) == (CLIENT_TRACE, server_id)


async def test_the_upstream_is_sent_the_attempts_traceparent_and_failed_attempts_are_errors(
    make_gateway: Any, spans: InMemorySpanExporter, fake_openai: FakeOpenAI
) -> None:
    gateway = await traced(
        make_gateway, spans, openai_api_key="sk-fake", openai_base_url=fake_openai.base_url, openai_model="gpt-fake"
    )
    body = {**V1, "stream": True, "messages": [{"role": "user", "content": "[[fail=1 chunks=3]] hi"}]}
    response = await gateway.post("/v1/chat/completions", json=body)
    assert response.status_code == 200 and "[DONE]" in response.text
    found = spans.get_finished_spans()
    [server] = by_name(found, "POST /v1/chat/completions")
    failed, answered = sorted(by_name(found, "chat gpt-fake"), key=lambda span: span.start_time or 0)
    assert failed.status.status_code == StatusCode.ERROR
    assert attrs(failed)["error.type"] == "upstream_error"
    assert answered.status.status_code == StatusCode.UNSET
    assert [attrs(s)["gateway.attempt"] for s in (failed, answered)] == [1, 2]
    assert attrs(answered)["gen_ai.provider.name"] == "openai"
    seen = [entry["headers"]["traceparent"].split("-")[:3] for entry in fake_openai.requests()]
    trace_id = hex_ids(server)[0]
    assert seen == [["00", trace_id, hex_ids(span)[1]] for span in (failed, answered)]
    # a whole answer and embeddings: their spans read the answer
    whole = await gateway.post("/v1/chat/completions", json=V1)
    assert whole.status_code == 200
    embedded = await gateway.post("/v1/embeddings", json={"model": "fake-embedding", "input": "hi"})
    assert embedded.status_code == 200
    found = spans.get_finished_spans()
    last_chat = by_name(found, "chat gpt-fake")[-1]
    assert attrs(last_chat)["gen_ai.response.finish_reasons"] == ("stop",)
    assert attrs(last_chat)["gen_ai.usage.output_tokens"] > 0
    [embedding] = by_name(found, "embeddings fake-embedding")
    assert attrs(embedding)["gen_ai.operation.name"] == "embeddings"


async def test_routes_are_named_by_their_template_and_errors_are_marked(
    make_gateway: Any, spans: InMemorySpanExporter
) -> None:
    gateway = await traced(make_gateway, spans)
    missing = "0b7e6c86-5d0c-4f39-8f55-39d3a0a5b8a1"
    assert (await gateway.get(f"/history/{missing}")).status_code == 404
    assert (await gateway.get("/no/such/route")).status_code == 404
    names = [span.name for span in spans.get_finished_spans() if span.kind == SpanKind.SERVER]
    assert names == ["GET /history/{record_id}", "GET"]  # no route: the method alone, as the conventions say
    assert all(span.parent is None for span in spans.get_finished_spans() if span.kind == SpanKind.SERVER)


async def test_a_batch_of_writes_is_a_trace_of_its_own_linked_to_each_request(spans: InMemorySpanExporter) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracing.install(provider)
    written: list[int] = []
    release = asyncio.Event()

    async def run(sql: str, rows: list[list[Any]]) -> None:
        if not written:
            await release.wait()
        written.append(len(rows))

    commit = GroupCommit("INSERT INTO t VALUES (?)", run, True, 1, ("INSERT", "t", "postgresql"))
    assert tracing.tracer is not None
    requests = []
    waits = []
    for n in range(4):
        with tracing.tracer.start_as_current_span(f"request {n}") as span:
            requests.append(span.get_span_context())
            waits.append(commit.submit([n]))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(*waits)
    assert written == [1, 3]
    lone, batch = sorted(by_name(spans.get_finished_spans(), "INSERT t"), key=lambda s: s.start_time or 0)
    assert lone.parent is not None and lone.parent.span_id == requests[0].span_id
    assert batch.parent is None and attrs(batch)["db.operation.batch.size"] == 3
    assert [link.context.span_id for link in batch.links] == [c.span_id for c in requests[1:]]


async def test_off_without_an_endpoint_and_the_sdk_reads_its_own_variables(make_gateway: Any) -> None:
    gateway: Gateway = await make_gateway()
    assert tracing.tracer is None
    assert not any(m.cls is TracingMiddleware for m in gateway.app.__dict__.get("user_middleware", []))
    made = await gateway.post("/stream", json={"prompt": "untraced"})
    assert (await gateway.get(f"/history/{made.headers['x-record-id']}")).json()["trace_id"] is None
    for env, on in [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
    ]:
        assert Settings.from_mapping(env).tracing is on, env
    tracing.start((("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"), ("OTEL_TRACES_SAMPLER", "always_off")))
    try:
        assert tracing._provider is not None and tracing._provider.sampler is ALWAYS_OFF
        assert tracing._provider.resource.attributes["service.name"] == "llm-gateway"
    finally:
        tracing.stop()
    import os

    assert "OTEL_TRACES_SAMPLER" not in os.environ  # a .env's variables do not stay in the process
