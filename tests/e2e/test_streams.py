"""End to end through a real uvicorn process, on SQLite and PostgreSQL: incremental delivery,
disconnects, SIGTERM and crashes all leave every record finished."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable

import httpx

from gateway.upstreams.providers.mock import mock_answer
from tests.conftest import fetch_record, rows, wait_finished
from tests.servers import UvicornProcess

PROMPT = "Describe the water cycle for a curious child"


async def test_text_arrives_word_by_word(uvicorn_gateway: Callable[..., UvicornProcess], database_url: str) -> None:
    server = uvicorn_gateway(MOCK_DELAY_SECONDS="0.05")
    arrivals: list[tuple[float, bytes]] = []
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        started = time.monotonic()
        async with client.stream("POST", "/stream", json={"prompt": PROMPT, "max_tokens": 12}) as response:
            async for part in response.aiter_raw():
                arrivals.append((time.monotonic() - started, part))
    body = b"".join(part for _, part in arrivals).decode()
    assert len(body.split()) == 12
    assert len(arrivals) >= 6, "the answer came in too few pieces to be streamed"
    assert arrivals[-1][0] - arrivals[0][0] >= 0.3, "the pieces did not arrive over time"
    record = await fetch_record(database_url, response.headers["x-record-id"])
    assert record["response"] == body and record["status"] == "complete"


async def test_client_disconnect_mid_stream_leaves_a_cancelled_record_with_the_partial_text(
    uvicorn_gateway: Callable[..., UvicornProcess], database_url: str
) -> None:
    server = uvicorn_gateway(MOCK_DELAY_SECONDS="0.05")
    received = b""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        async with client.stream("POST", "/stream", json={"prompt": PROMPT}) as response:
            record_id = response.headers["x-record-id"]
            async for part in response.aiter_raw():
                received += part
                if len(received.split()) >= 3:
                    break
    record = await wait_finished(database_url, record_id, within=5)
    assert record["status"] == "cancelled"
    full = mock_answer([{"role": "user", "content": PROMPT}])
    assert record["response"].startswith(received.decode())
    assert len(record["response"]) < len(full), "the generation was not stopped when the client left"
    await asyncio.sleep(0.3)
    [line] = [entry for entry in server.log_lines() if entry.get("record_id") == record_id]
    assert line["outcome"] == "cancelled_after_first_token" and line["request_id"] == response.headers["x-request-id"]


async def test_sigterm_mid_stream_finalises_every_record(
    uvicorn_gateway: Callable[..., UvicornProcess], database_url: str
) -> None:
    server = uvicorn_gateway(MOCK_DELAY_SECONDS="0.2", GRACEFUL_SECONDS="1")
    received: dict[str, bytes] = {}

    async def consume(client: httpx.AsyncClient, index: int) -> None:
        fmt = ("text", "openai", "sse")[index % 3]
        async with client.stream("POST", f"/stream?stream_format={fmt}", json={"prompt": f"{PROMPT} {index}"}) as r:
            key = f"{fmt}:{r.headers['x-record-id']}"
            received[key] = b""
            try:
                async for part in r.aiter_raw():
                    received[key] += part
            except httpx.HTTPError:
                pass

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        tasks = [asyncio.create_task(consume(client, i)) for i in range(6)]
        await asyncio.sleep(0.8)
        server.signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(server.wait, 15)
        await asyncio.gather(*tasks)
    # uvicorn re-raises the signal it caught once it has shut down cleanly.
    assert exit_code in (0, -signal.SIGTERM)
    assert len(received) == 6
    assert "streaming" not in [row["status"] for row in await rows(database_url, "SELECT status FROM records")]
    for key, body in received.items():
        fmt, record_id = key.split(":", 1)
        record = await fetch_record(database_url, record_id)
        assert record["status"] == "error" and "shutting down" in record["error"]
        assert record["response"], "the partial text was lost"
        if fmt == "openai":
            last = json.loads(body.decode().splitlines()[-1])
            assert last["error"]["type"] == "shutdown"
        if fmt == "sse":
            assert body.endswith(b"data: [DONE]\n\n")


async def test_records_a_crash_left_streaming_become_interrupted(
    uvicorn_gateway: Callable[..., UvicornProcess], database_url: str
) -> None:
    server = uvicorn_gateway(MOCK_DELAY_SECONDS="0.2")
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        async with client.stream("POST", "/stream", json={"prompt": PROMPT}) as response:
            record_id = response.headers["x-record-id"]
            async for _ in response.aiter_raw():
                break
            server.signal(signal.SIGKILL)
            server.wait(5)
    assert (await fetch_record(database_url, record_id))["status"] == "streaming"
    await asyncio.sleep(1.2)
    uvicorn_gateway(STALE_STREAM_SECONDS="1")
    record = await fetch_record(database_url, record_id)
    assert record["status"] == "interrupted"
    assert record["completed_at"] is not None
