"""The plumbing every streamed answer shares: its headers, a watcher that notices the client leave
at once (even while the upstream is silent), and SSE keep-alives after a silence.

Used by the relay (relay.py) and by a resumed stream (resume.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.streams import formats


def stream_headers(
    content_type: str, record_id: uuid.UUID, conversation_id: uuid.UUID | None = None
) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-type", content_type.encode()),
        (b"cache-control", b"no-cache, no-transform"),
        (b"x-accel-buffering", b"no"),
        (b"x-record-id", str(record_id).encode()),
    ]
    if conversation_id is not None:
        headers.append((b"x-conversation-id", str(conversation_id).encode()))
    return headers


class StreamedResponse(Response):
    """A response whose body is sent by `stream()` as it comes.

    The keep-alive is a timer, not a task per chunk: sending only stamps `last_sent`. And methods,
    not a closure that schedules itself, which would hold the whole stream in a reference cycle
    until a garbage collection (the server collects rarely: app.GC_THRESHOLDS)."""

    def __init__(self, headers: list[tuple[bytes, bytes]], keepalive: float | None) -> None:
        self.status_code = 200
        self.background = None
        self.raw_headers = headers
        self.keepalive = keepalive  # seconds of silence before a keep-alive comment; None: none
        self.client_gone = False
        self.sending = False
        self.last_sent = 0.0
        self.task: asyncio.Task[Any] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.side_sends: set[asyncio.Future[None]] = set()
        self.send: Send | None = None

    async def stream(self, scope: Scope) -> None:
        """Send the body: `start()`, then `write()` each part."""
        raise NotImplementedError

    def client_left(self) -> None:
        """The client went away: by default the stream stops at once."""
        if self.task is not None:
            self.task.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.task = asyncio.current_task()
        self.send = send
        watcher = asyncio.ensure_future(self._watch(receive))
        try:
            await self.stream(scope)
        finally:
            watcher.cancel()
            self.quiet()
            self.send = None
        if not self.client_gone:
            with contextlib.suppress(Exception):  # the client may have left meanwhile
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def start(self) -> None:
        """The status and headers; then keep-alives while the body is silent."""
        assert self.send is not None
        await self.send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        self.last_sent = time.monotonic()
        if self.keepalive is not None:
            self.timer = asyncio.get_running_loop().call_later(self.keepalive, self._tick)

    def quiet(self) -> None:
        """No more keep-alives: the body has ended."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.keepalive = None

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.client_gone = True
        self.client_left()

    async def write(self, data: bytes) -> None:
        send = self.send
        if self.client_gone or not data or send is None:
            return
        self.sending = True
        try:
            await send({"type": "http.response.body", "body": data, "more_body": True})
        finally:
            self.sending = False
            self.last_sent = time.monotonic()

    def _tick(self) -> None:
        interval = self.keepalive
        if interval is None or self.send is None:
            return
        idle = time.monotonic() - self.last_sent
        if idle >= interval and not self.sending:
            side = asyncio.ensure_future(self.write(formats.SSE_KEEPALIVE))
            self.side_sends.add(side)
            side.add_done_callback(self.side_sends.discard)
            idle = 0.0
        self.timer = asyncio.get_running_loop().call_later(max(interval - idle, 0.05), self._tick)

    # Starlette's Response API, unused: the body is streamed by __call__.
    def render(self, content: Any) -> bytes:  # pragma: no cover
        return b""
