"""What a real uvicorn process logs: one JSON line a request with its request id (or readable
lines), and never a key."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import OPERATOR_KEY, cli, rows
from tests.servers import UvicornProcess

pytestmark = pytest.mark.usefixtures("no_key_cache")


def test_keys_never_reach_the_log_or_the_database(
    uvicorn_gateway: Callable[..., UvicornProcess], database_url: str
) -> None:
    created = cli(database_url, "keys", "create", "dave")
    key = created.stdout.splitlines()[0]
    server = uvicorn_gateway(API_KEY=OPERATOR_KEY)
    httpx.get(server.url + "/stream", params={"prompt": "hi", "api_key": key}, timeout=30)
    httpx.get(server.url + "/history", headers={"x-api-key": key + "x"}, timeout=30)
    httpx.get(server.url + "/history", headers={"authorization": f"Bearer {OPERATOR_KEY}"}, timeout=30)
    bad = httpx.get(server.url + "/history", headers={"x-api-key": "not-" + key}, timeout=30)
    server.stop()
    assert key not in bad.text
    log = server.log_text()
    assert key not in log and OPERATOR_KEY not in log and key[3:20] not in log
    access_keys = {json.loads(line).get("key") for line in log.splitlines() if line.startswith("{")}
    assert {"dave", "operator"} <= access_keys
    dump = repr(asyncio.run(rows(database_url, "SELECT * FROM records"))) + repr(
        asyncio.run(rows(database_url, "SELECT * FROM api_keys"))
    )
    assert key not in dump and OPERATOR_KEY not in dump


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
