"""Resuming an `sse` stream: `GET /stream` with `Last-Event-ID: <record_id>:<offset>`.

A resumed request starts no generation. It sends the record's text after `<offset>` and, while
the record is still `streaming`, follows it to its end: from the live relay when the generation
runs on this instance (woken at every chunk), otherwise from the record in the database: a
detached stream checkpoints its text there every half second, and a cancelled one has all its
text in its final write. On PostgreSQL those writes NOTIFY, so a follower wakes at once (and
re-reads at least every second); on SQLite it polls every `POLL_SECONDS`. It ends like any stream: finish and
usage chunks then `[DONE]`, or an error chunk then `[DONE]` when the record ended otherwise.
Nothing left to send: 204, which tells `EventSource` to stop reconnecting.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway import formats, logs
from gateway.auth import principal
from gateway.errors import Invalid, NotFound
from gateway.store import Progress, Store
from gateway.streaming import Relay, Streams

POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0


def parse_event_id(value: str) -> tuple[uuid.UUID, int]:
    record, sep, offset = value.strip().rpartition(":")
    try:
        if not sep or not offset.isdigit():
            raise ValueError(value)
        return uuid.UUID(record), int(offset)
    except ValueError:
        raise Invalid("Last-Event-ID must be <record_id>:<offset>, as the stream's event ids are") from None


async def resume(request: Request, last_event_id: str) -> Response:
    record_id, offset = parse_event_id(last_event_id)
    store: Store = request.state.store
    streams: Streams = request.state.streams
    record = await store.progress(record_id, owner=principal(request.scope).owner)
    if record is None:
        raise NotFound(f"record {record_id} not found")
    if record["status"] != "streaming" and offset >= len(record["response"]):
        logs.fields(request.scope).update(record_id=str(record_id), stream_format="sse", outcome="nothing_left")
        return Response(status_code=204)
    return Follow(
        store, streams, request.state.progress, record_id, offset, record, request.state.settings.sse_keepalive_seconds
    )


class Follow(Response):
    def __init__(
        self,
        store: Store,
        streams: Streams,
        progress: Progress,
        record_id: uuid.UUID,
        offset: int,
        record: dict[str, Any],
        keepalive: float,
    ) -> None:
        self.store = store
        self.streams = streams
        self.progress = progress
        self.record_id = record_id
        self.sent = offset
        self.record = record
        self.keepalive = keepalive
        self.status_code = 200
        self.background = None
        self.prefix = f"{record_id}:"
        self.encoder = formats.ChunkEncoder(f"chatcmpl-{record_id.hex}", record["model"], int(time.time()))
        self.raw_headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache, no-transform"),
            (b"x-accel-buffering", b"no"),
            (b"x-record-id", str(record_id).encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        assert task is not None

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            task.cancel()

        watcher = asyncio.ensure_future(watch())
        outcome = "resumed"
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await self._follow(send)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            outcome = "resumed_then_left"
        finally:
            watcher.cancel()
            logs.fields(scope).update(record_id=str(self.record_id), stream_format="sse", outcome=outcome)

    async def _emit(self, send: Send, text: str) -> None:
        if len(text) > self.sent:
            fresh = text[self.sent :]
            self.sent = len(text)
            data = formats.sse(self.encoder.content(fresh), f"{self.prefix}{self.sent}")
            await send({"type": "http.response.body", "body": data, "more_body": True})

    async def _follow(self, send: Send) -> None:
        record = self.record
        last_sent = time.monotonic()
        while True:
            relay: Relay | None = self.streams.by_record.get(self.record_id)
            if relay is not None and relay.outcome is not None:
                relay = None
                record = await self.store.progress(self.record_id) or record  # its final state
            if relay is not None:
                waiter = relay.progress
                relay.followers += 1
                try:
                    await self._emit(send, relay.text())
                    try:
                        await asyncio.wait_for(waiter.wait(), timeout=self.keepalive)
                    except TimeoutError:
                        await send({"type": "http.response.body", "body": formats.SSE_KEEPALIVE, "more_body": True})
                finally:
                    relay.followers -= 1
                continue
            await self._emit(send, record["response"])
            if record["status"] != "streaming":
                break
            # Woken by the generating instance's NOTIFY on PostgreSQL; a poll otherwise.
            await self.progress.wait(self.record_id, POLL_SECONDS if not self.progress.listening else 1.0)
            if time.monotonic() - last_sent >= self.keepalive:
                await send({"type": "http.response.body", "body": formats.SSE_KEEPALIVE, "more_body": True})
                last_sent = time.monotonic()
            fresh = await self.store.progress(self.record_id)
            if fresh is None:  # deleted meanwhile
                record = {**record, "status": "error", "error": "the record was deleted"}
            else:
                record = fresh
        await send({"type": "http.response.body", "body": self._ending(record), "more_body": True})

    def _ending(self, record: dict[str, Any]) -> bytes:
        frame = self.prefix + str(self.sent)
        if record["status"] == "complete":
            completion = record["completion_tokens"] or 0
            limit = record["max_tokens"]
            reason = "length" if limit and completion >= limit else "stop"
            ending = formats.sse(self.encoder.finish(reason), frame)
            ending += formats.sse(self.encoder.usage(record["prompt_tokens"] or 0, completion), frame)
        else:
            message = record["error"] or f"the stream ended {record['status']}"
            ending = formats.sse(formats.error_chunk(record["status"], message), frame)
        return ending + formats.SSE_DONE
