"""Logs, request ids, metrics and the OpenAPI description."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.routing import Mount, Route

from gateway.app import create_app
from gateway.observability import logs
from gateway.openapi import describe as openapi
from gateway.settings import Settings
from tests.conftest import Gateway
from tests.servers import UvicornProcess


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text, 0 when absent."""
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            if series.split("{")[0] == name and all(f'{k}="{v}"' in series for k, v in labels.items()):
                return float(value)
    return 0.0


async def test_made_up_methods_share_one_series(gateway: Gateway) -> None:
    # A client's own method names must not grow the request counter without bound.
    for method in ("BREW", "WHEN", "BREW"):
        assert (await gateway.request(method, "/nowhere")).status_code in (404, 405)
    text = (await gateway.get("/metrics")).text
    assert sample(text, "gateway_requests_total", route="unmatched", method="other", status="404") >= 3
    assert 'method="BREW"' not in text and 'method="WHEN"' not in text


async def test_metrics_count_requests_streams_tokens_and_time(gateway: Gateway) -> None:
    before = (await gateway.get("/metrics")).text
    await gateway.post("/stream?stream_format=sse", json={"prompt": "hi", "max_tokens": 3})
    await gateway.get("/history/not-a-uuid")
    response = await gateway.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    after = response.text
    requests = "gateway_requests_total"
    assert sample(after, requests, route="/stream", method="POST", status="200") == (
        sample(before, requests, route="/stream", method="POST", status="200") + 1
    )
    assert sample(after, requests, route="/history/{record_id}", status="422") >= 1
    streams = "gateway_streams_total"
    assert sample(after, streams, outcome="complete", format="sse") == (
        sample(before, streams, outcome="complete", format="sse") + 1
    )
    assert sample(after, "gateway_time_to_first_token_seconds_count") > sample(
        before, "gateway_time_to_first_token_seconds_count"
    )
    assert (
        sample(after, "gateway_inter_chunk_gap_seconds_count")
        >= sample(before, "gateway_inter_chunk_gap_seconds_count") + 2
    )
    assert (
        sample(after, "gateway_tokens_total", direction="out")
        == sample(before, "gateway_tokens_total", direction="out") + 3
    )
    assert "gateway_stream_duration_seconds_bucket" in after
    # Counted twice in one process: the cached label children are the registry's own.
    await gateway.post("/stream?stream_format=sse", json={"prompt": "hi", "max_tokens": 3})
    again = (await gateway.get("/metrics")).text
    assert (
        sample(again, streams, outcome="complete", format="sse")
        == sample(after, streams, outcome="complete", format="sse") + 1
    )
    assert "gateway_active_streams" in after
    attempts = "gateway_upstream_attempts_total"
    assert (
        sample(again, attempts, result="ok", upstream="mock")
        == sample(after, attempts, result="ok", upstream="mock") + 1
    )


def test_every_route_is_described_in_openapi() -> None:
    app = create_app(Settings())
    described = openapi.spec(Settings(), "x")["paths"]
    for route in app.routes:
        if isinstance(route, Mount):  # the page's static files, served with "/"
            assert route.path == "/static" and "/" in described
            continue
        assert isinstance(route, Route)
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)  # Starlette's converters are not OpenAPI's
        assert path in described, f"{path} is not in the OpenAPI description"
        for method in route.methods or ():
            if method != "HEAD":
                assert method.lower() in described[path], f"{method} {path} is not described"


async def test_openapi_is_served_as_3_1(gateway: Gateway) -> None:
    response = await gateway.get("/openapi.json")
    assert response.status_code == 200
    body = response.json()
    assert body["openapi"] == "3.1.0"
    prompt = body["paths"]["/stream"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert prompt["properties"]["prompt"]["maxLength"] == 32000


def access_lines(server: UvicornProcess) -> list[dict[str, Any]]:
    return [line for line in server.log_lines() if line.get("logger") == "gateway.access"]


async def test_a_real_uvicorn_writes_one_json_line_per_request_with_its_request_id(
    uvicorn_gateway: Callable[..., UvicornProcess],
) -> None:
    server = uvicorn_gateway()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        responses = [
            await client.get("/health"),
            await client.post("/stream?stream_format=openai", json={"prompt": "hello", "max_tokens": 3}),
            await client.post("/stream", json={"prompt": "hello"}, headers={"x-request-id": "client-id.1"}),
            await client.get("/history"),
            await client.post("/stream", content=b"{oops", headers={"content-type": "application/json"}),
            await client.get("/nowhere"),
            await client.get("/metrics"),
        ]
        async with client.stream("POST", "/stream", json={"prompt": "long answer"}) as streaming:
            async for _ in streaming.aiter_raw():
                break
        responses.append(streaming)
    await __import__("asyncio").sleep(0.5)
    server.stop()
    lines = server.log_lines()  # every line parses as JSON, or this raises
    assert all(isinstance(line, dict) and line.get("level") for line in lines)
    access = access_lines(server)
    health_checks = [line for line in access if line["path"] == "/health"]
    requests = [line for line in access if line not in health_checks[:-1]]  # start-up polls /health too
    assert [line["request_id"] for line in requests] == [r.headers["x-request-id"] for r in responses]
    assert responses[2].headers["x-request-id"] == "client-id.1"
    for line, response in zip(requests, responses, strict=True):
        assert line["status"] == response.status_code
        assert line["method"] and line["path"] and line["client"] == "127.0.0.1"
        assert line["duration_ms"] >= 0 and "key" in line
    stream_line = requests[1]
    assert stream_line["record_id"] == responses[1].headers["x-record-id"]
    assert stream_line["stream_format"] == "openai" and stream_line["outcome"] == "complete"
    assert stream_line["ttft_ms"] > 0
    assert stream_line["upstream"] == "mock" and stream_line["attempts"] == 1
    assert requests[-1]["outcome"] == "cancelled_after_first_token"
    starting = [line for line in lines if "starting" in line.get("message", "")]
    assert starting and "llm=mock" in starting[0]["message"] and "database=" in starting[0]["message"]
    assert not [line for line in lines if line.get("logger") in ("uvicorn.access", "httpx")]


def test_log_json_false_gives_readable_lines(uvicorn_gateway: Callable[..., UvicornProcess]) -> None:
    server = uvicorn_gateway(LOG_JSON="false")
    httpx.get(server.url + "/history", headers={"x-request-id": "readable-1"})
    server.stop()
    text = server.log_text()
    assert "[readable-1] GET /history 200" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[-1])


def test_json_lines_keep_utf8_and_carry_extras_and_exceptions(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(json_lines=True, level="INFO")
    log = logging.getLogger("gateway.test")
    log.info("naïve café ✓", extra={"record_id": uuid.UUID(int=1), "ttft_ms": 1.5})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    first, second = capsys.readouterr().out.splitlines()
    assert "naïve café ✓" in first  # UTF-8 as it is, not \u escapes
    line = json.loads(first)
    assert line["message"] == "naïve café ✓" and line["level"] == "INFO" and line["logger"] == "gateway.test"
    assert line["record_id"] == "00000000-0000-0000-0000-000000000001" and line["ttft_ms"] == 1.5
    assert line["time"].endswith("+00:00") and "request_id" in line
    assert "ValueError: boom" in json.loads(second)["exc_info"]
