"""The aiohttp transport against raw sockets, as the upstream sees it: a request is on the wire in
the step that makes it (the one use of aiohttp's internals, pinned), connections are kept after
`[DONE]`, and aiohttp's errors arrive as httpx's of the same kind."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket

import aiohttp
import httpx
import pytest

from gateway.settings import Settings
from gateway.upstreams.llm import Completion
from gateway.upstreams.providers.openai import OpenAI
from gateway.upstreams.transport import AiohttpTransport, failure_kind, reading_errors
from tests.upstreams.test_openai import sse_event


def test_aiohttp_is_the_release_whose_internals_the_transport_was_checked_against() -> None:
    # _Request drives ClientRequest.write_bytes by hand on Python 3.11; a new aiohttp must be
    # checked again (the two tests at the end of this file) before the pin in pyproject.toml moves.
    assert aiohttp.__version__ == "3.14.5"
    assert list(inspect.signature(aiohttp.ClientRequest.write_bytes).parameters) == [
        "self",
        "writer",
        "conn",
        "content_length",
    ]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (
            aiohttp.ClientConnectorError(
                aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None), OSError(111, "refused")
            ),
            "connect",
        ),
        (aiohttp.ConnectionTimeoutError(), "timeout"),
        (aiohttp.SocketTimeoutError(), "timeout"),
        (aiohttp.ServerDisconnectedError(), "broken"),
        (aiohttp.ClientPayloadError("cut"), "broken"),
    ],
)
def test_aiohttp_errors_arrive_as_httpx_errors_of_the_same_kind(error: Exception, kind: str) -> None:
    with pytest.raises(httpx.TransportError) as caught, reading_errors():
        raise error
    assert failure_kind(caught.value) == kind and caught.value.__cause__ is error


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
        self.transport = AiohttpTransport(max_connections=10, keepalive_expiry=30)

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
    # gateway's transport sends it within the step that makes it (docs/performance.md).
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

        tasks_before = asyncio.all_tasks()
        stuck = upstream.post(body)
        await asyncio.sleep(0.05)
        stuck.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(stuck, 5)
        await asyncio.sleep(0)
        assert asyncio.all_tasks() <= tasks_before  # its body's writer ended with it
        connection.close()
    finally:
        await upstream.close()
