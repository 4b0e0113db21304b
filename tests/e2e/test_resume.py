"""Resumable SSE through real uvicorn processes, on SQLite and PostgreSQL: no duplicate and no gap
across a reconnect, a generation followed from another instance, 204 once nothing is left."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import FakeOpenAI, fetch_record, wait_finished
from tests.servers import UvicornProcess

Start = Callable[..., UvicornProcess]


class Events:
    """An SSE reader: the text, the last id, and whether [DONE] came."""

    def __init__(self) -> None:
        self.text = ""
        self.last_id: str | None = None
        self.done = False
        self.errors: list[dict[str, Any]] = []
        self.ids: list[str] = []

    def feed(self, block: str) -> None:
        data = None
        for line in block.split("\n"):
            if line.startswith("id: "):
                self.last_id = line[4:]
                self.ids.append(self.last_id)
            elif line.startswith("data: "):
                data = line[6:]
        if data is None:
            return
        if data == "[DONE]":
            self.done = True
            return
        chunk = json.loads(data)
        if "error" in chunk:
            self.errors.append(chunk["error"])
        for choice in chunk.get("choices", []):
            self.text += choice["delta"].get("content", "")


async def read(response: httpx.Response, events: Events, stop_after: int | None = None) -> None:
    buffer = ""
    seen = 0
    async for piece in response.aiter_text():
        buffer += piece
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            events.feed(block)
            seen += 1
            if stop_after is not None and seen >= stop_after:
                return


async def test_a_reconnect_resumes_without_duplicate_or_gap_and_then_gets_204(
    uvicorn_gateway: Start, database_url: str
) -> None:
    server = uvicorn_gateway(MOCK_DELAY_SECONDS="0.03")
    params = {"prompt": "Explain tides to a sailor", "stream_format": "sse", "on_disconnect": "detach"}
    events = Events()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        async with client.stream("GET", "/stream", params=params) as response:
            record_id = response.headers["x-record-id"]
            await read(response, events, stop_after=6)
        before = events.text
        assert before and not events.done
        assert events.last_id == f"{record_id}:{len(before)}"
        async with client.stream("GET", "/stream", params=params, headers={"last-event-id": events.last_id}) as again:
            assert again.status_code == 200
            await read(again, events)
        assert events.done and not events.errors
        record = await wait_finished(database_url, record_id)
        assert record["status"] == "complete"
        assert events.text == record["response"], "a character was repeated or lost across the reconnect"
        finished = await client.get("/stream", params=params, headers={"last-event-id": events.last_id})
        assert finished.status_code == 204
        listed = (await client.get("/history")).json()
    assert listed["total"] == 1, "a reconnect started a new generation"


async def test_a_generation_on_one_instance_is_followed_from_another(uvicorn_gateway: Start, database_url: str) -> None:
    first, second = uvicorn_gateway(MOCK_DELAY_SECONDS="0.03"), uvicorn_gateway(MOCK_DELAY_SECONDS="0.03")
    params = {"prompt": "Describe the rings of Saturn", "stream_format": "sse", "on_disconnect": "detach"}
    events = Events()
    async with httpx.AsyncClient(timeout=30) as client:
        async with client.stream("GET", first.url + "/stream", params=params) as response:
            record_id = response.headers["x-record-id"]
            await read(response, events, stop_after=4)
        await asyncio.sleep(0.6)  # let a checkpoint happen on the first instance
        async with client.stream("GET", second.url + "/stream", params={"last_event_id": events.last_id}) as followed:
            assert followed.status_code == 200
            await read(followed, events)
    assert events.done and not events.errors
    record = await fetch_record(database_url, record_id)
    assert record["status"] == "complete" and events.text == record["response"]
    offsets = [int(i.rsplit(":", 1)[1]) for i in events.ids]
    assert offsets == sorted(offsets)


async def test_resuming_a_cancelled_stream_sends_what_is_left_then_the_error_ending(
    uvicorn_gateway: Start, database_url: str
) -> None:
    server = uvicorn_gateway(MOCK_DELAY_SECONDS="0.03")
    events = Events()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        async with client.stream(
            "GET", "/stream", params={"prompt": "Tell me about owls", "stream_format": "sse"}
        ) as r:
            record_id = r.headers["x-record-id"]
            await read(r, events, stop_after=4)
        record = await wait_finished(database_url, record_id)
        assert record["status"] == "cancelled"
        again = await client.get("/stream", headers={"last-event-id": f"{record_id}:{len(events.text)}"})
        if len(record["response"]) > len(events.text):
            assert again.status_code == 200
            for block in again.text.split("\n\n"):
                events.feed(block)
            assert events.errors[0]["type"] == "cancelled" and events.done
        else:
            assert again.status_code == 204
        assert events.text == record["response"]


async def test_a_malformed_event_id_is_422_and_an_unknown_record_404(uvicorn_gateway: Start) -> None:
    server = uvicorn_gateway()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        assert (await client.get("/stream", headers={"last-event-id": "nonsense"})).status_code == 422
        assert (await client.get("/stream", params={"last_event_id": f"{uuid.uuid4()}:0"})).status_code == 404


async def test_after_done_the_upstream_sees_exactly_one_request(
    uvicorn_gateway: Start, fake_openai: FakeOpenAI
) -> None:
    server = uvicorn_gateway(OPENAI_API_KEY="sk", OPENAI_BASE_URL=fake_openai.base_url)
    events = Events()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        async with client.stream("GET", "/stream", params={"prompt": "hi [[chunks=5]]", "stream_format": "sse"}) as r:
            await read(r, events)
        assert events.done and events.text == "tok0 tok1 tok2 tok3 tok4"
        for _ in range(3):  # what EventSource does after the stream ends
            again = await client.get(
                "/stream",
                params={"prompt": "hi [[chunks=5]]", "stream_format": "sse"},
                headers={"last-event-id": events.last_id or ""},
            )
            assert again.status_code == 204
    assert len(fake_openai.requests()) == 1
