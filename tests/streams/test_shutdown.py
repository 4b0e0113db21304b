"""Shutdown, called as uvicorn calls it: when its grace is over it cancels every request task still
running, then runs the lifespan's shutdown. Whatever a request was doing then, its client gets a
clear answer (never uvicorn's bare 500) and its record is ended before the database is closed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from gateway.errors import UpstreamError
from gateway.streams.ending import SHUTDOWN_CUT, SHUTDOWN_UNANSWERED
from gateway.streams.live import Streams
from gateway.upstreams.llm import Completion
from gateway.upstreams.providers.mock import MockLLM
from tests.conftest import Gateway, json_post_scope, rows
from tests.streams.test_relay import ScriptedLLM


class Call:
    """One request to the ASGI app, in a task of its own as uvicorn runs it, with what it sent."""

    def __init__(self, gateway: Gateway, path: str, body: dict[str, Any], hold: bytes | None = None) -> None:
        self.messages: list[dict[str, Any]] = []
        self.hold = hold  # a body part containing this is sent slowly (a slow client)
        self.holding = asyncio.Event()
        path, _, query = path.partition("?")
        scope = json_post_scope(path, query)
        self.request = {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}
        self.task = asyncio.ensure_future(gateway.app(scope, self.receive, self.send))  # type: ignore[arg-type]

    async def receive(self) -> dict[str, Any]:
        if self.request is not None:
            request, self.request = self.request, None  # type: ignore[assignment]
            return request
        await asyncio.Event().wait()  # the client stays
        raise AssertionError("unreachable")

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        if self.hold is not None and self.hold in message.get("body", b""):
            self.holding.set()
            await asyncio.sleep(0.3)

    @property
    def status(self) -> int:
        return int(next(m["status"] for m in self.messages if m["type"] == "http.response.start"))

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(next(m["headers"] for m in self.messages if m["type"] == "http.response.start"))

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")

    @property
    def ended(self) -> bool:
        return any(m["type"] == "http.response.body" and not m.get("more_body") for m in self.messages)


async def uvicorn_grace_is_over(gateway: Gateway, *calls: Call) -> None:
    """What uvicorn does then: cancel the request tasks, then shut the lifespan down (here, the
    part of it that waits for the records to be ended)."""
    for call in calls:
        call.task.cancel()
    streams: Streams = gateway.state["streams"]
    await streams.shutdown(5)
    for call in calls:
        await asyncio.wait_for(call.task, 5)  # ends by itself: no CancelledError left for uvicorn


async def only_record(database_url: str) -> dict[str, Any]:
    (record,) = await rows(database_url, "SELECT status, response, error FROM records")
    return record


class Unanswering(MockLLM):
    """An upstream that has been asked and has not answered yet."""

    def __init__(self) -> None:
        super().__init__(delay=0)
        self.asked = asyncio.Event()

    async def open(self, completion: Completion) -> Any:
        self.asked.set()
        await asyncio.sleep(60)
        return await super().open(completion)


def slow_inserts(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Every record's insert starts 0.3 s late; the event is set when one is asked for."""
    store = gateway.state["store"]
    create = store.create
    asked = asyncio.Event()

    def slow_create(**values: Any) -> asyncio.Future[None]:
        async def insert() -> None:
            asked.set()
            await asyncio.sleep(0.3)
            await create(**values)

        return asyncio.ensure_future(insert())

    monkeypatch.setattr(store, "create", slow_create)
    return asked


def slow_first_call(monkeypatch: pytest.MonkeyPatch, store: Any, method: str) -> asyncio.Event:
    """The first call of one of the store's writes starts 0.3 s late; the event is set then."""
    original = getattr(store, method)
    called = asyncio.Event()

    async def slow(*args: Any, **kwargs: Any) -> None:
        if not called.is_set():
            called.set()
            await asyncio.sleep(0.3)
        await original(*args, **kwargs)

    monkeypatch.setattr(store, method, slow)
    return called


def is_shutdown_503(call: Call) -> bool:
    error = json.loads(call.body)["error"]
    return call.status == 503 and error["type"] == "unavailable" and call.headers.get(b"retry-after") == b"1"


@pytest.mark.parametrize("path", ["/stream", "/stream?stream_format=sse", "/v1/chat/completions"])
async def test_a_request_whose_answer_had_not_started_gets_a_503_and_its_record_ends_error(
    make_gateway: Any, database_url: str, path: str
) -> None:
    llm = Unanswering()
    gateway = await make_gateway(llm=llm)
    body: dict[str, Any] = {"prompt": "hello"}
    if path.startswith("/v1"):
        body = {"messages": [{"role": "user", "content": "hello"}], "stream": True}
    call = Call(gateway, path, body)
    await asyncio.wait_for(llm.asked.wait(), 5)
    await asyncio.sleep(0.1)  # the record's insert lands meanwhile
    await uvicorn_grace_is_over(gateway, call)
    assert is_shutdown_503(call) and call.ended
    record = await only_record(database_url)
    assert (record["status"], record["error"]) == ("error", SHUTDOWN_UNANSWERED)


async def test_a_request_cut_while_its_record_is_being_written_still_gets_its_record(
    make_gateway: Any, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = await make_gateway(llm=ScriptedLLM(words=3, delay=0))
    asked = slow_inserts(gateway, monkeypatch)
    call = Call(gateway, "/stream", {"prompt": "hello"})
    await asyncio.wait_for(asked.wait(), 5)
    await asyncio.sleep(0.05)  # the upstream has answered; the request waits for its record
    await uvicorn_grace_is_over(gateway, call)
    assert is_shutdown_503(call)
    record = await only_record(database_url)
    assert (record["status"], record["error"]) == ("error", SHUTDOWN_UNANSWERED)


async def test_a_stream_cut_as_it_writes_its_end_keeps_its_whole_text(
    make_gateway: Any, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = await make_gateway(llm=ScriptedLLM(words=3, delay=0))
    writing = slow_first_call(monkeypatch, gateway.state["store"], "finish")  # cut in it
    call = Call(gateway, "/stream", {"prompt": "hello"})
    await asyncio.wait_for(writing.wait(), 5)
    await uvicorn_grace_is_over(gateway, call)
    assert call.status == 200 and call.body == b" w0 w1 w2" and call.ended
    record = await only_record(database_url)
    assert (record["status"], record["response"]) == ("complete", " w0 w1 w2")


async def test_a_stream_cut_by_uvicorn_then_stopped_by_the_lifespan_still_ends_its_record(
    make_gateway: Any, database_url: str
) -> None:
    # The lifespan's shutdown stops the streams still running while the one uvicorn cancelled is
    # sending its error ending to a slow client: that second cancellation must not cut it.
    gateway = await make_gateway(llm=ScriptedLLM(words=1000, delay=0.01))
    call = Call(gateway, "/stream?stream_format=sse", {"prompt": "hello"}, hold=b"shutting down")
    await asyncio.sleep(0.2)
    call.task.cancel()
    await asyncio.wait_for(call.holding.wait(), 5)
    await gateway.state["streams"].shutdown(5)
    await asyncio.wait_for(call.task, 5)
    assert call.body.endswith(b"data: [DONE]\n\n") and call.ended
    record = await only_record(database_url)
    assert (record["status"], record["error"]) == ("error", SHUTDOWN_CUT)
    assert record["response"].startswith(" w0 w1")


async def test_a_whole_completion_cut_while_the_upstream_answers_is_a_503_and_its_record_ends(
    make_gateway: Any, database_url: str
) -> None:
    class Slow(MockLLM):
        async def complete(self, completion: Completion) -> Any:
            await asyncio.sleep(60)
            return await super().complete(completion)

    gateway = await make_gateway(llm=Slow(delay=0))
    call = Call(gateway, "/v1/chat/completions", {"messages": [{"role": "user", "content": "hello"}]})
    await asyncio.sleep(0.2)
    await uvicorn_grace_is_over(gateway, call)
    assert is_shutdown_503(call)
    record = await only_record(database_url)
    assert (record["status"], record["error"], record["response"]) == ("error", SHUTDOWN_UNANSWERED, "")


async def test_a_refusal_cut_while_its_record_is_being_written_is_recorded_with_its_reason(
    make_gateway: Any, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Refusing(MockLLM):
        async def open(self, completion: Completion) -> Any:
            raise UpstreamError("the upstream refused")

    gateway = await make_gateway(llm=Refusing(delay=0))
    asked = slow_inserts(gateway, monkeypatch)
    call = Call(gateway, "/stream", {"prompt": "hello"})
    await asyncio.wait_for(asked.wait(), 5)
    await asyncio.sleep(0.05)
    await uvicorn_grace_is_over(gateway, call)
    assert is_shutdown_503(call)
    record = await only_record(database_url)
    assert (record["status"], record["error"]) == ("error", "the upstream refused")


async def test_a_detached_stream_cut_while_its_last_checkpoint_is_written_keeps_its_whole_text(
    make_gateway: Any, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = await make_gateway(llm=ScriptedLLM(words=3, delay=0))
    # The stream ends during its first checkpoint, and waits for it before writing its end.
    checkpointing = slow_first_call(monkeypatch, gateway.state["store"], "checkpoint")
    call = Call(gateway, "/stream", {"prompt": "hello", "on_disconnect": "detach"})
    await asyncio.wait_for(checkpointing.wait(), 5)
    await asyncio.sleep(0.05)
    await uvicorn_grace_is_over(gateway, call)
    assert call.body == b" w0 w1 w2" and call.ended
    record = await only_record(database_url)
    assert (record["status"], record["response"]) == ("complete", " w0 w1 w2")
