"""The OpenAI client against respx: retries, error mapping, mid-stream failures, parsing."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gzip
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx

from gateway.errors import BadRequest, UpstreamBusy, UpstreamError, UpstreamTimeout
from gateway.llm import Chunk, Completion, StreamFailed
from gateway.settings import Settings
from gateway.upstream import OpenAI, Transport, parse_line, retry_after_seconds

BASE = "http://upstream.test/v1"
URL = f"{BASE}/chat/completions"


def sse_event(delta: dict[str, Any] | None = None, finish: str | None = None, usage: Any = None) -> bytes:
    event: dict[str, Any] = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    event["choices"] = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    event["usage"] = usage
    return b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n"


def good_stream(words: list[str], usage: bool = True) -> list[bytes]:
    parts = [sse_event({"role": "assistant", "content": ""})]
    parts += [sse_event({"content": word}) for word in words]
    parts.append(sse_event({}, finish="stop"))
    if usage:
        parts.append(sse_event(None, usage={"prompt_tokens": 9, "completion_tokens": len(words), "total_tokens": 0}))
    parts.append(b"data: [DONE]\n\n")
    return parts


def streamed(parts: list[bytes], error: Exception | None = None) -> httpx.Response:
    async def body() -> AsyncIterator[bytes]:
        for part in parts:
            yield part
        if error is not None:
            raise error

    return httpx.Response(200, content=body(), headers={"content-type": "text/event-stream"})


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "openai_api_key": "sk-test",
        "openai_base_url": BASE,
        "openai_max_retries": 3,
        "openai_connect_deadline": 20.0,
    }
    values.update(overrides)
    return Settings(**values)


class Client(OpenAI):
    """The real client on a respx router (its transport), with backoff sleeps recorded instead of waited."""

    def __init__(self, settings: Settings, router: respx.MockRouter) -> None:
        super().__init__(settings, transport=httpx.MockTransport(router.async_handler))
        self.waits: list[float] = []

        async def sleep(seconds: float) -> None:
            self.waits.append(seconds)

        self.sleep = sleep


def completion(**kwargs: Any) -> Completion:
    values: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}], "model": "gpt-x", "request_id": "req-1"}
    values.update(kwargs)
    return Completion(**values)


async def read_all(client: OpenAI, request: Completion | None = None) -> list[Chunk]:
    stream = await client.open(request or completion())
    try:
        return [chunk async for chunk in stream]
    finally:
        await stream.aclose()


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    # using=None: nothing is patched; each Client is handed the router as its transport.
    with respx.mock(assert_all_called=False, using=None) as router:
        yield router


async def test_streams_text_finish_and_usage(mock: respx.MockRouter) -> None:
    mock.post(URL).mock(return_value=streamed(good_stream(["Hello", " world"])))
    chunks = await read_all(Client(settings(), mock))
    assert "".join(c.text for c in chunks) == "Hello world"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    [usage] = [c.usage for c in chunks if c.usage]
    assert (usage.prompt_tokens, usage.completion_tokens, usage.estimated) == (9, 2, False)


async def test_sends_what_openai_expects(mock: respx.MockRouter) -> None:
    route = mock.post(URL).mock(return_value=streamed(good_stream(["x"])))
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": "second"},
    ]
    await read_all(Client(settings(), mock), completion(messages=messages, temperature=0.3, max_tokens=50))
    request = route.calls.last.request
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.headers["x-request-id"] == "req-1"
    assert json.loads(request.content) == {
        "model": "gpt-x",
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.3,
        "max_tokens": 50,
    }


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_retryable_statuses_are_retried_with_backoff(mock: respx.MockRouter, status: int) -> None:
    route = mock.post(URL)
    route.side_effect = [
        httpx.Response(status, json={"error": {"message": "busy"}}),
        httpx.Response(status, json={"error": {"message": "busy"}}),
        streamed(good_stream(["ok"])),
    ]
    client = Client(settings(), mock)
    chunks = await read_all(client)
    assert "".join(c.text for c in chunks) == "ok"
    assert route.call_count == 3
    assert len(client.waits) == 2
    assert 0 <= client.waits[0] <= 0.25 and 0 <= client.waits[1] <= 0.5


async def test_connection_errors_and_timeouts_before_the_answer_are_retried(mock: respx.MockRouter) -> None:
    route = mock.post(URL)
    route.side_effect = [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), streamed(good_stream(["ok"]))]
    chunks = await read_all(Client(settings(), mock))
    assert "".join(c.text for c in chunks) == "ok"
    assert route.call_count == 3


async def test_a_broken_connection_is_retried_at_once_and_a_refused_one_with_backoff(mock: respx.MockRouter) -> None:
    # A connection that broke under the request is most often a kept-alive one the upstream closed
    # as it was reused, and a pool the upstream closed at once can hold several: no reason to wait.
    route = mock.post(URL)
    broken = [httpx.RemoteProtocolError("Server disconnected") for _ in range(3)]
    route.side_effect = [*broken, streamed(good_stream(["ok"]))]
    client = Client(settings(openai_max_retries=3), mock)
    assert "".join(c.text for c in await read_all(client)) == "ok"
    assert route.call_count == 4 and client.waits == []
    # (httpx-aiohttp reports a closed connection as ConnectTimeout: see the failure_kind test.)
    # A connection that could not be made (the upstream down or restarting) backs off every time.
    route.side_effect = [httpx.ConnectError("refused"), httpx.ConnectError("refused"), streamed(good_stream(["ok"]))]
    client = Client(settings(), mock)
    await read_all(client)
    assert len(client.waits) == 2 and 0 <= client.waits[0] <= 0.25 and 0 <= client.waits[1] <= 0.5
    route.side_effect = [httpx.ReadTimeout("slow"), streamed(good_stream(["ok"]))]
    client = Client(settings(), mock)
    await read_all(client)
    assert len(client.waits) == 1  # a timeout is not a closed connection: it backs off
    # Broken every time: it still gives up after the retries allowed.
    route.side_effect = [httpx.RemoteProtocolError("Server disconnected") for _ in range(3)]
    client = Client(settings(openai_max_retries=2), mock)
    with pytest.raises(UpstreamError):
        await read_all(client)
    assert client.waits == []


async def test_retry_after_seconds_is_honoured(mock: respx.MockRouter) -> None:
    route = mock.post(URL)
    route.side_effect = [httpx.Response(429, headers={"retry-after": "2"}), streamed(good_stream(["ok"]))]
    client = Client(settings(), mock)
    await read_all(client)
    assert client.waits == [2.0]


async def test_retry_after_http_date_is_honoured(mock: respx.MockRouter) -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
    header = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    route = mock.post(URL)
    route.side_effect = [httpx.Response(503, headers={"retry-after": header}), streamed(good_stream(["ok"]))]
    client = Client(settings(), mock)
    await read_all(client)
    assert 1.5 <= client.waits[0] <= 3.0


async def test_persistent_429_becomes_503_with_retry_after(mock: respx.MockRouter) -> None:
    route = mock.post(URL).mock(return_value=httpx.Response(429, headers={"retry-after": "1"}, json={}))
    client = Client(settings(openai_max_retries=2), mock)
    with pytest.raises(UpstreamBusy) as caught:
        await read_all(client)
    assert caught.value.status == 503
    assert caught.value.headers["Retry-After"] == "1"
    assert route.call_count == 3


async def test_a_retry_after_beyond_the_deadline_gives_up_at_once(mock: respx.MockRouter) -> None:
    route = mock.post(URL).mock(return_value=httpx.Response(429, headers={"retry-after": "120"}, json={}))
    client = Client(settings(openai_connect_deadline=10), mock)
    with pytest.raises(UpstreamBusy) as caught:
        await read_all(client)
    assert route.call_count == 1 and client.waits == []
    assert caught.value.headers["Retry-After"] == "120"


async def test_persistent_5xx_and_connection_failure_become_502(mock: respx.MockRouter) -> None:
    mock.post(URL).mock(return_value=httpx.Response(500, json={"error": {"message": "down"}}))
    with pytest.raises(UpstreamError) as caught:
        await read_all(Client(settings(), mock))
    assert caught.value.status == 502 and "down" in caught.value.message
    mock.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(UpstreamError) as refused:
        await read_all(Client(settings(), mock))
    assert refused.value.status == 502


async def test_a_timeout_before_the_answer_becomes_504(mock: respx.MockRouter) -> None:
    mock.post(URL).mock(side_effect=httpx.ConnectTimeout("slow"))
    with pytest.raises(UpstreamTimeout) as caught:
        await read_all(Client(settings(openai_max_retries=1), mock))
    assert caught.value.status == 504


async def test_the_overall_deadline_becomes_504(mock: respx.MockRouter) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    mock.post(URL).mock(side_effect=slow)
    with pytest.raises(UpstreamTimeout):
        await asyncio.wait_for(read_all(Client(settings(openai_connect_deadline=0.2), mock)), timeout=3)


async def test_upstream_400_passes_its_message_without_retrying(mock: respx.MockRouter) -> None:
    route = mock.post(URL).mock(
        return_value=httpx.Response(400, json={"error": {"message": "max_tokens is too large"}})
    )
    with pytest.raises(BadRequest) as caught:
        await read_all(Client(settings(), mock))
    assert caught.value.status == 400 and "max_tokens is too large" in caught.value.message
    assert route.call_count == 1


@pytest.mark.parametrize("status", [401, 403])
async def test_upstream_auth_failures_are_502_and_logged_loudly(
    mock: respx.MockRouter, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    route = mock.post(URL).mock(return_value=httpx.Response(status, json={"error": {"message": "bad key"}}))
    with caplog.at_level(logging.ERROR, logger="gateway.upstream"), pytest.raises(UpstreamError) as caught:
        await read_all(Client(settings(), mock))
    assert caught.value.status == 502
    assert "credentials" in caught.value.message and "bad key" not in caught.value.message
    assert route.call_count == 1
    assert any("OPENAI_API_KEY" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (httpx.ReadTimeout("silent"), "upstream_timeout"),
        (httpx.ReadError("reset"), "upstream_error"),
        (httpx.RemoteProtocolError("incomplete chunked read"), "upstream_error"),
    ],
)
async def test_failures_mid_stream_raise_stream_failed_after_the_partial_text(
    mock: respx.MockRouter, error: Exception, kind: str
) -> None:
    parts = good_stream(["one", " two", " three"])[:3]
    mock.post(URL).mock(return_value=streamed(parts, error))
    stream = await Client(settings(), mock).open(completion())
    texts = []
    with pytest.raises(StreamFailed) as caught:
        async for chunk in stream:
            texts.append(chunk.text)
    assert "".join(texts) == "one two"
    assert caught.value.type == kind


@pytest.mark.parametrize(
    ("line", "mentions"),
    [
        (b"this is not an event stream\n\n", "malformed"),
        (b"data: {not json\n\n", "not JSON"),
        (b'data: {"error": {"message": "overloaded"}}\n\n', "overloaded"),
    ],
)
async def test_bad_events_mid_stream_raise_stream_failed(mock: respx.MockRouter, line: bytes, mentions: str) -> None:
    mock.post(URL).mock(return_value=streamed([*good_stream(["one"])[:2], line]))
    with pytest.raises(StreamFailed) as caught:
        await read_all(Client(settings(), mock))
    assert mentions in caught.value.message


async def test_multibyte_characters_split_across_reads_are_reassembled(mock: respx.MockRouter) -> None:
    whole = b"".join(good_stream(["héllo", " 🙂", " 日本語"]))
    pieces = [whole[i : i + 7] for i in range(0, len(whole), 7)]  # cuts inside characters
    mock.post(URL).mock(return_value=streamed(pieces))
    chunks = await read_all(Client(settings(), mock))
    assert "".join(c.text for c in chunks) == "héllo 🙂 日本語"


async def test_closing_the_stream_closes_the_response(mock: respx.MockRouter) -> None:
    mock.post(URL).mock(return_value=streamed(good_stream(["a"] * 100)))
    stream = await Client(settings(), mock).open(completion())
    first = await anext(aiter(stream))
    assert first.text == "a"
    await stream.aclose()
    assert stream.response.is_closed  # type: ignore[attr-defined]


def test_parse_line_skips_comments_and_blank_lines_and_reads_done() -> None:
    assert parse_line(b"") is None
    assert parse_line(b": keep-alive") is None
    assert parse_line(b"event: message") is None
    assert parse_line(b"data: [DONE]").finish_reason == "[DONE]"  # type: ignore[union-attr]
    chunk = parse_line(b'data:{"choices":[{"delta":{"content":"x"},"finish_reason":null}]}\r')
    assert chunk == Chunk(text="x")


def test_retry_after_parsing() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert retry_after_seconds("7", now) == 7
    assert retry_after_seconds("Thu, 01 Jan 2026 00:00:30 GMT", now) == 30
    assert retry_after_seconds("Thu, 01 Jan 2025 00:00:30 GMT", now) == 0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


async def test_text_before_a_bad_line_in_the_same_read_is_still_relayed(mock: respx.MockRouter) -> None:
    together = b"".join([*good_stream(["one", " two"])[:3], b"data: {not json\n\n"])
    mock.post(URL).mock(return_value=streamed([together]))
    stream = await Client(settings(), mock).open(completion())
    texts = []
    with pytest.raises(StreamFailed):
        async for chunk in stream:
            texts.append(chunk.text)
    assert "".join(texts) == "one two"


async def test_events_that_arrive_together_are_relayed_as_one_chunk(mock: respx.MockRouter) -> None:
    mock.post(URL).mock(return_value=streamed([b"".join(good_stream(["a", "b", "c"]))]))
    chunks = await read_all(Client(settings(), mock))
    assert len(chunks) == 1
    assert chunks[0].text == "abc" and chunks[0].finish_reason == "stop" and chunks[0].usage is not None


def wrapped(cause: Exception, as_: type[httpx.HTTPError]) -> httpx.HTTPError:
    error = as_("mapped by httpx-aiohttp")
    error.__cause__ = cause
    return error


def test_failure_kind_reads_the_aiohttp_error_behind_httpx_aiohttp_mapping() -> None:
    import aiohttp

    from gateway.upstream import failure_kind

    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None),
        OSError(111, "refused"),
    )
    assert failure_kind(wrapped(refused, httpx.ConnectTimeout)) == "connect"
    assert failure_kind(wrapped(aiohttp.ServerDisconnectedError(), httpx.ConnectTimeout)) == "broken"
    assert failure_kind(wrapped(aiohttp.SocketTimeoutError(), httpx.ReadTimeout)) == "timeout"
    assert failure_kind(wrapped(aiohttp.ClientPayloadError("cut"), httpx.ReadError)) == "broken"
    assert failure_kind(httpx.ReadTimeout("plain httpx")) == "timeout"
    assert failure_kind(httpx.ConnectError("plain httpx")) == "connect"


async def test_an_upstream_that_compresses_anyway_is_decoded(mock: respx.MockRouter) -> None:
    # The gateway asks for `Accept-Encoding: identity` and reads the body as it comes; an upstream
    # (or a proxy before it) that gzips the stream all the same still gets its text relayed.
    body = gzip.compress(b"".join(good_stream(["zipped", " text"])))
    headers = {"content-type": "text/event-stream", "content-encoding": "gzip"}
    route = mock.post(URL).mock(return_value=httpx.Response(200, content=body, headers=headers))
    chunks = await read_all(Client(settings(), mock))
    assert "".join(c.text for c in chunks) == "zipped text"
    assert route.calls.last.request.headers["accept-encoding"] == "identity"


class DoneThenEnding:
    """A raw HTTP/1.1 upstream that answers "hi", `[DONE]`, then the chunked ending: with it, 100 ms
    later when the prompt says `late`, or never (the connection closed) when it says `cut`."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> OpenAI:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.llm = OpenAI(Settings(openai_api_key="sk-test", openai_base_url=f"http://127.0.0.1:{port}/v1"))
        return self.llm

    async def __aexit__(self, *exc: object) -> None:
        await self.llm.aclose()
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                body = await reader.readexactly(length)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n")
                writer.write(b"transfer-encoding: chunked\r\n\r\n")
                events = sse_event({"content": "hi"}, "stop") + b"data: [DONE]\n\n"
                writer.write(b"%x\r\n%s\r\n" % (len(events), events))
                await writer.drain()
                if b"cut" in body:
                    break
                if b"late" in body:
                    await asyncio.sleep(0.1)
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        writer.close()


async def ask(llm: OpenAI, prompt: str) -> str:
    stream = await llm.open(Completion(messages=[{"role": "user", "content": prompt}], model="m"))
    try:
        return "".join([chunk.text async for chunk in stream])
    finally:
        await stream.aclose()


async def test_the_connection_is_kept_whether_the_body_ends_with_done_or_a_moment_after_it() -> None:
    # After [DONE] the rest of the body is read (the chunked ending), at once when it came with it,
    # so the connection goes back to the pool either way rather than being closed.
    upstream = DoneThenEnding()
    async with upstream as llm:
        for prompt in ("late", "together", "late", "together"):
            assert await ask(llm, prompt) == "hi"
    assert upstream.connections == 1


async def test_a_connection_lost_after_done_leaves_the_answer_whole() -> None:
    # The chunked ending never comes: the stream still ends as the upstream finished it, and the
    # next request takes a new connection.
    upstream = DoneThenEnding()
    async with upstream as llm:
        assert await ask(llm, "cut") == "hi"
        assert await ask(llm, "together") == "hi"
    assert upstream.connections == 2


class RawUpstream:
    """A listening socket read and answered by hand, and the gateway's transport pointed at it: what
    the transport writes, and when, is seen as the upstream sees it."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/v1/chat/completions"
        self.transport = Transport(max_connections=10, keepalive_expiry=30)

    def post(self, body: bytes) -> asyncio.Future[httpx.Response]:
        return asyncio.ensure_future(self.transport.handle_async_request(httpx.Request("POST", self.url, content=body)))

    async def read(self, connection: socket.socket, ending: bytes, at_least: int = 0) -> bytes:
        received = bytearray()
        while not received.endswith(ending) or len(received) < at_least:
            received += await self.loop.sock_recv(connection, 1024 * 1024)
        return bytes(received)

    async def answer(self, connection: socket.socket, request: asyncio.Future[httpx.Response]) -> None:
        await self.loop.sock_sendall(connection, b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        response = await request
        assert await response.aread() == b"ok"
        await response.aclose()

    async def close(self) -> None:
        await self.transport.aclose()
        self.listener.close()


async def test_a_request_is_on_the_wire_before_its_task_first_waits() -> None:
    # aiohttp writes a request that has a body in a task of its own, on Python 3.11 a turn of the
    # loop later: in a burst of 1,000 requests, only after every other request's set-up. The
    # gateway's transport sends it within the step that makes it (README, "Performance").
    upstream = RawUpstream()
    try:
        first = upstream.post(b'{"n": 1}')
        connection, _ = await upstream.loop.sock_accept(upstream.listener)
        await upstream.read(connection, b'{"n": 1}')
        await upstream.answer(connection, first)

        second = upstream.post(b'{"n": 2}')  # on the same connection, from the pool
        await asyncio.sleep(0)  # the request's task takes its first step, up to its first wait
        try:
            sent = connection.recv(65536, socket.MSG_DONTWAIT)
        except BlockingIOError:
            sent = b""
        assert sent.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
        assert sent.endswith(b'\r\n\r\n{"n": 2}')  # headers and body in one write, as aiohttp sends them
        await upstream.answer(connection, second)
        connection.close()
    finally:
        await upstream.close()


async def test_a_body_that_fills_the_socket_goes_on_in_aiohttps_task_to_its_end_or_its_cancellation() -> None:
    # The writer started in the request's step stops at its first wait when the socket is full;
    # the rest runs in aiohttp's task as before: the whole body arrives, and a request cancelled
    # while its body is stuck ends at once (its writer with it).
    upstream = RawUpstream()
    body = b"x" * (32 * 1024 * 1024)
    try:
        request = upstream.post(body)
        connection, _ = await upstream.loop.sock_accept(upstream.listener)
        await asyncio.sleep(0.05)
        assert not request.done()  # its body is stuck: nothing is read yet
        assert (await upstream.read(connection, b"x" * 16, len(body))).endswith(b"\r\n\r\n" + body)
        await upstream.answer(connection, request)

        stuck = upstream.post(body)
        await asyncio.sleep(0.05)
        stuck.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(stuck, 5)
        await asyncio.sleep(0)
        left = [repr(task.get_coro()) for task in asyncio.all_tasks()]
        assert not [name for name in left if "write_bytes" in name or "_rest_of" in name]
        connection.close()
    finally:
        await upstream.close()
