"""The relay called as an ASGI app with our own receive/send: disconnects, failures, keep-alives."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from gateway.settings import Settings
from gateway.streams.relay import Relay
from gateway.upstreams.llm import Chunk, Completion, StreamFailed
from gateway.upstreams.providers.mock import MockLLM
from gateway.upstreams.providers.openai import OpenAI
from tests.conftest import Gateway, cut_off_database, json_post_scope


class ScriptedLLM(MockLLM):
    """Streams `words` with `delay` between them, then does what `ending` says."""

    def __init__(self, words: int = 1000, delay: float = 0.01, ending: str = "stop", first_delay: float = 0) -> None:
        super().__init__(delay=delay)
        self.words = words
        self.ending = ending
        self.first_delay = first_delay
        self.closed_at: float | None = None
        self.yielded: list[float] = []  # when each word was produced

    async def _stream(self, completion: Completion) -> AsyncGenerator[Chunk, None]:
        try:
            await asyncio.sleep(self.first_delay)
            for index in range(self.words):
                self.yielded.append(time.monotonic())
                yield Chunk(text=f" w{index}")
                await asyncio.sleep(self.delay)
            if self.ending == "fail":
                raise StreamFailed("upstream_error", "the upstream broke")
            if self.ending == "stop":
                yield Chunk(finish_reason="stop")
        finally:
            self.closed_at = time.monotonic()


async def drive(
    gateway: Gateway,
    query: str,
    body: dict[str, Any],
    disconnect_after: int | None = None,
    times: list[float] | None = None,
) -> tuple[list[bytes], float | None]:
    """POST /stream?query, returning the body parts sent, and when the client left (if it did)."""
    sent: list[bytes] = []
    left_at: float | None = None
    gone = asyncio.Event()
    request = {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered, left_at
        if not delivered:
            delivered = True
            return request
        await gone.wait()
        left_at = time.monotonic()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            sent.append(message["body"])
            if times is not None:
                times.append(time.monotonic())
            if disconnect_after is not None and len(sent) >= disconnect_after:
                gone.set()

    scope = json_post_scope("/stream", query)
    await asyncio.wait_for(gateway.app(scope, receive, send), timeout=10)  # type: ignore[arg-type]
    return sent, left_at


async def latest(gateway: Gateway) -> dict[str, Any]:
    item: dict[str, Any] = (await gateway.get("/history", params={"limit": 1})).json()["items"][0]
    return item


async def test_a_client_that_leaves_closes_the_llm_stream_at_once(make_gateway: Any) -> None:
    llm = ScriptedLLM(delay=0.02)
    gateway = await make_gateway(llm=llm)
    sent, left_at = await drive(gateway, "stream_format=text", {"prompt": "hi"}, disconnect_after=5)
    assert left_at is not None and llm.closed_at is not None
    assert llm.closed_at - left_at < 0.1
    record = await latest(gateway)
    assert record["status"] == "cancelled"
    assert record["response"] == b"".join(sent).decode()
    assert record["error"] is None


async def test_detach_lets_the_generation_finish_after_the_client_leaves(make_gateway: Any) -> None:
    llm = ScriptedLLM(words=30, delay=0.005)
    gateway = await make_gateway(llm=llm)
    sent, _ = await drive(gateway, "on_disconnect=detach", {"prompt": "hi"}, disconnect_after=3)
    record = await latest(gateway)
    assert record["status"] == "complete"
    assert record["response"] == "".join(f" w{i}" for i in range(30))
    assert len(b"".join(sent).decode()) < len(record["response"])


async def test_failure_mid_stream_ends_sse_with_an_error_chunk_then_done(make_gateway: Any) -> None:
    gateway = await make_gateway(llm=ScriptedLLM(words=10, delay=0, ending="fail"))
    sent, _ = await drive(gateway, "stream_format=sse", {"prompt": "hi"})
    body = b"".join(sent).decode()
    events = body.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    error = json.loads(events[-3].split("data: ", 1)[1])
    assert error == {"error": {"type": "upstream_error", "message": "the upstream broke"}}
    record = await latest(gateway)
    assert record["status"] == "error" and record["error"] == "the upstream broke"
    assert record["response"] == "".join(f" w{i}" for i in range(10))


async def test_failure_mid_stream_in_text_just_stops_and_openai_ends_with_the_error(make_gateway: Any) -> None:
    gateway = await make_gateway(llm=ScriptedLLM(words=4, delay=0, ending="fail"))
    text, _ = await drive(gateway, "stream_format=text", {"prompt": "hi"})
    assert b"".join(text).decode() == " w0 w1 w2 w3"
    lines, _ = await drive(gateway, "stream_format=openai", {"prompt": "hi"})
    last = json.loads(b"".join(lines).decode().splitlines()[-1])
    assert last["error"]["type"] == "upstream_error"


async def test_a_stream_that_ends_without_a_finish_reason_is_an_error(make_gateway: Any) -> None:
    gateway = await make_gateway(llm=ScriptedLLM(words=3, delay=0, ending="silent-close"))
    await drive(gateway, "stream_format=openai", {"prompt": "hi"})
    record = await latest(gateway)
    assert record["status"] == "error" and "before it finished" in record["error"]


async def test_sse_sends_keep_alives_while_the_llm_is_silent(make_gateway: Any) -> None:
    gateway = await make_gateway(llm=ScriptedLLM(words=2, delay=0, first_delay=0.5), sse_keepalive_seconds=0.1)
    sent, _ = await drive(gateway, "stream_format=sse", {"prompt": "hi"})
    body = b"".join(sent).decode()
    first_content = body.index('"content":" w0"')
    assert body[:first_content].count(": keep-alive\n\n") >= 3


async def test_max_stream_seconds_ends_an_endless_stream(make_gateway: Any) -> None:
    gateway = await make_gateway(llm=ScriptedLLM(words=10**9, delay=0.01), max_stream_seconds=0.2)
    sent, _ = await drive(gateway, "stream_format=openai", {"prompt": "hi"})
    assert json.loads(sent[-1])["error"]["type"] == "stream_too_long"
    record = await latest(gateway)
    assert record["status"] == "error" and record["response"]


async def test_a_finished_stream_is_freed_at_once_in_every_format(make_gateway: Any) -> None:
    # No reference cycle may hold a finished stream (its text, its upstream response) until a
    # garbage collection: the server process collects rarely (gateway.app.GC_THRESHOLDS).
    gateway = await make_gateway(llm=ScriptedLLM(words=3, delay=0.01), sse_keepalive_seconds=0.005)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for stream_format in ("text", "openai", "sse"):
            sent, _ = await drive(gateway, f"stream_format={stream_format}", {"prompt": "hi"})
            assert b"w2" in b"".join(sent)
        gc.collect()
        relays = [o for o in gc.garbage if isinstance(o, Relay)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert relays == []


async def test_the_upstream_is_asked_while_the_record_is_written_and_nothing_it_sent_is_lost(
    make_gateway: Any, fake_openai: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real client (aiohttp drops bytes it has buffered when the connection then breaks) against
    # the fake upstream, which sends two chunks and drops; the record's insert takes 0.3 s.
    llm = OpenAI(Settings(openai_api_key="sk-test", openai_base_url=fake_openai.base_url, openai_timeout=5))
    gateway = await make_gateway(llm=llm)
    store, moments = gateway.state["store"], {}
    create, open_ = store.create, llm.open

    async def slow_create(**values: Any) -> None:
        await asyncio.sleep(0.3)
        await create(**values)
        moments["inserted"] = time.monotonic()

    async def timed_open(completion: Completion) -> Any:
        moments["asked"] = time.monotonic()
        return await open_(completion)

    monkeypatch.setattr(store, "create", slow_create)
    monkeypatch.setattr(llm, "open", timed_open)
    try:
        response = await gateway.post("/stream", json={"prompt": "go [[chunks=5 drop at=2]]"})
    finally:
        await llm.aclose()
    assert moments["asked"] < moments["inserted"] - 0.2  # asked at once, not after the insert
    assert response.status_code == 200 and response.text == "tok0 tok1"
    record = (await gateway.get(f"/history/{response.headers['x-record-id']}")).json()
    assert (record["status"], record["response"]) == ("error", "tok0 tok1")


async def test_a_record_that_cannot_be_written_is_a_503_even_though_the_upstream_was_asked(
    make_gateway: Any, tmp_path: Any
) -> None:
    gateway = await make_gateway(llm=ScriptedLLM(words=3, delay=0))
    await cut_off_database(gateway, tmp_path)
    for stream_format in ("text", "sse"):
        response = await gateway.post(f"/stream?stream_format={stream_format}", json={"prompt": "hi"})
        assert response.status_code == 503
        assert response.json()["error"]["type"] == "unavailable"


async def test_a_record_that_cannot_be_written_stops_the_upstream_request_at_once(
    make_gateway: Any, tmp_path: Any
) -> None:
    # In a database outage every client retry would otherwise reach the upstream (and its bill).
    asked = asyncio.Event()
    stopped: list[bool] = []

    class SlowToAnswer(MockLLM):
        async def open(self, completion: Completion) -> Any:
            asked.set()
            try:
                await asyncio.sleep(5)
            except asyncio.CancelledError:
                stopped.append(True)
                raise
            return await super().open(completion)

    gateway = await make_gateway(llm=SlowToAnswer(delay=0))
    await cut_off_database(gateway, tmp_path)
    started = time.monotonic()
    response = await gateway.post("/stream", json={"prompt": "hi"})
    assert response.status_code == 503 and response.json()["error"]["type"] == "unavailable"
    assert asked.is_set() and stopped == [True]
    assert time.monotonic() - started < 2


async def test_text_read_ahead_while_the_record_is_written_goes_out_at_once(
    make_gateway: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first word comes at once, the second a second later; the insert takes 0.2 s. The first
    # word must go out as soon as the record exists, not wait for the second.
    llm = ScriptedLLM(words=2, delay=1.0)
    gateway = await make_gateway(llm=llm)
    store = gateway.state["store"]
    create = store.create
    inserted: list[float] = []

    async def slow_create(**values: Any) -> None:
        await asyncio.sleep(0.2)
        await create(**values)
        inserted.append(time.monotonic())

    monkeypatch.setattr(store, "create", slow_create)
    times: list[float] = []
    sent, _ = await drive(gateway, "stream_format=text", {"prompt": "hi"}, times=times)
    assert sent[0] == b" w0" and b"".join(sent) == b" w0 w1"
    assert llm.yielded[0] < inserted[0] <= times[0] < llm.yielded[1]
