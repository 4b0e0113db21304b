"""A light HTTP/1.1 load generator: asyncio sockets and httptools, one connection a request.

It times each request's first content byte (the first occurrence of `marker` in the body) and
its end, and counts the bytes. An httpx client saturates a core at ~200 requests/s here; this
one costs a small fraction of what it measures, and it reports its own CPU so that can be checked.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import httptools


@dataclass
class Result:
    status: int = 0
    ttft: float | None = None
    duration: float = 0.0
    body_bytes: int = 0
    error: str | None = None
    tail: bytes = b""
    last_token: float | None = None


@dataclass
class Run:
    results: list[Result] = field(default_factory=list)
    wall: float = 0.0
    cpu: float = 0.0


class _Protocol(asyncio.Protocol):
    def __init__(self, started: float, marker: bytes, last: bytes, done: asyncio.Future[Result]) -> None:
        self.started = started
        self.marker = marker
        self.last = last
        self.done = done
        self.result = Result()
        self.parser = httptools.HttpResponseParser(self)
        self.window = b""

    # httptools callbacks
    def on_status(self, status: bytes) -> None:
        self.result.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        result = self.result
        result.body_bytes += len(body)
        if result.ttft is None:
            self.window = (self.window + body)[-(len(body) + len(self.marker)) :]
            if self.marker in self.window:
                result.ttft = time.perf_counter() - self.started
        tail = result.tail + body
        if result.last_token is None and self.last and self.last in tail:
            result.last_token = time.perf_counter() - self.started
        result.tail = tail[-64:]

    def on_message_complete(self) -> None:
        self.result.duration = time.perf_counter() - self.started
        if not self.done.done():
            self.done.set_result(self.result)

    # asyncio callbacks
    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(f"parse error: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost: {exc}")

    def _fail(self, message: str) -> None:
        if not self.done.done():
            self.result.error = message
            self.result.duration = time.perf_counter() - self.started
            self.done.set_result(self.result)


def post_request(host: str, port: int, path: str, body: dict[str, object]) -> bytes:
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + data


async def one(host: str, port: int, request: bytes, marker: bytes, last: bytes, limit: float) -> Result:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Result] = loop.create_future()
    started = time.perf_counter()
    try:
        transport, _ = await loop.create_connection(lambda: _Protocol(started, marker, last, done), host, port)
    except OSError as exc:
        return Result(error=f"connect: {exc}")
    try:
        transport.write(request)
        return await asyncio.wait_for(done, limit)
    except TimeoutError:
        return Result(error="timeout", duration=time.perf_counter() - started)
    finally:
        transport.close()


async def run(
    host: str,
    port: int,
    request: bytes,
    total: int,
    concurrency: int,
    marker: bytes,
    last: bytes = b"",
    limit: float = 120.0,
    ramp: float = 0.0,
) -> Run:
    """Send `total` copies of `request`, `concurrency` at a time; time `marker` and `last` in the body.
    With `ramp`, the `concurrency` clients start evenly over that many seconds rather than at once
    (10,000 connections opened in one instant overflow any listen backlog)."""
    outcome = Run()
    queue = iter(range(total))
    cpu0, wall0 = time.process_time(), time.perf_counter()

    async def worker(index: int) -> None:
        if ramp:
            await asyncio.sleep(ramp * index / concurrency)
        for _ in queue:
            outcome.results.append(await one(host, port, request, marker, last, limit))

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    outcome.wall = time.perf_counter() - wall0
    outcome.cpu = time.process_time() - cpu0
    return outcome
