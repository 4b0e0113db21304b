"""Resuming an `sse` stream: `GET /stream` with `Last-Event-ID: <record_id>:<offset>`.

A resumed request starts no generation. It sends the record's text after `<offset>` and, while
the record is still `streaming`, follows it to its end: from the live relay when the generation
runs on this instance (woken at every chunk), otherwise from the record in the database: a
detached stream checkpoints its text there every half second, and a cancelled one has all its
text in its final write. On PostgreSQL those writes NOTIFY, so a follower wakes at once (and
re-reads at least every second); on SQLite it polls every `POLL_SECONDS`. It ends like any
stream: finish and usage chunks then `[DONE]`, or an error chunk then `[DONE]` when the record
ended otherwise. Nothing left to send: 204, which tells `EventSource` to stop reconnecting.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from gateway.access.auth import principal
from gateway.db.notify import Listener
from gateway.errors import Invalid, NotFound
from gateway.history.store import Store
from gateway.observability import logs
from gateway.streams import formats
from gateway.streams.live import Streams
from gateway.streams.streamed import StreamedResponse, stream_headers
from gateway.upstreams.llm import Usage

POLL_SECONDS = 0.25
LISTENING_POLL_SECONDS = 1.0  # a notification lost while the LISTEN connection is made again


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
    state = request.state
    record = await state.store.snapshot(record_id, owner=principal(request.scope).owner)
    if record is None:
        raise NotFound(f"record {record_id} not found")
    if record["status"] != "streaming" and offset >= len(record["response"]):
        logs.fields(request.scope).update(record_id=str(record_id), stream_format="sse", outcome="nothing_left")
        return Response(status_code=204)
    return Follow(state.store, state.streams, state.listener, record_id, offset, record, state.settings)


class Follow(StreamedResponse):
    def __init__(
        self,
        store: Store,
        streams: Streams,
        listener: Listener,
        record_id: uuid.UUID,
        offset: int,
        record: dict[str, Any],
        settings: Any,
        frames: formats.Frames | None = None,
    ) -> None:
        """`frames`: a format of its own (a response's events); else `sse`'s chunks."""
        self.frames = frames or formats.frames_for(
            "sse", str(record_id), record_id.hex, record["model"], int(time.time())
        )
        super().__init__(stream_headers(self.frames.content_type, record_id), settings.sse_keepalive_seconds)
        self.store = store
        self.streams = streams
        self.listener = listener
        self.record_id = record_id
        self.sent = offset
        self.record = record

    async def stream(self, scope: Scope) -> None:
        outcome = "resumed"
        try:
            await self.start()
            await self.write(self.opening())
            await self._follow()
        except asyncio.CancelledError:  # the client left (or a shutdown: it reconnects elsewhere)
            outcome = "resumed_then_left"
        finally:
            self.quiet()
            logs.fields(scope).update(record_id=str(self.record_id), stream_format="sse", outcome=outcome)

    async def _emit(self, text: str) -> None:
        if len(text) > self.sent:
            fresh = text[self.sent :]
            self.sent = len(text)
            await self.write(self.frames.content(fresh, self.sent))

    async def _follow(self) -> None:
        record = self.record
        while True:
            live = self.streams.by_record.get(self.record_id)
            if live is not None and live.outcome is not None:
                live = None
                record = await self.store.snapshot(self.record_id) or record  # its final state
            if live is not None:
                changed = live.changed
                live.followers += 1
                try:
                    await self._emit(live.text())
                    await changed.wait()
                finally:
                    live.followers -= 1
                continue
            await self._emit(record["response"])
            if record["status"] != "streaming":
                break
            # Woken by the generating instance's NOTIFY on PostgreSQL; a poll otherwise.
            await self.listener.wait(
                self.record_id, LISTENING_POLL_SECONDS if self.listener.listening else POLL_SECONDS
            )
            fresh = await self.store.snapshot(self.record_id)
            record = fresh if fresh is not None else {**record, "status": "error", "error": "the record was deleted"}
        await self.write(await self.ending(record))

    def opening(self) -> bytes:
        """What goes before the text (nothing: the client has seen the stream's beginning)."""
        return b""

    async def ending(self, record: dict[str, Any]) -> bytes:
        """The stream's end, as the record's status tells it."""
        frames, sent = self.frames, self.sent
        if record["status"] == "complete":
            completion = record["completion_tokens"] or 0
            limit = record["max_tokens"]
            reason = "length" if limit and completion >= limit else "stop"
            ending = frames.finish(reason, sent) + frames.usage(Usage(record["prompt_tokens"] or 0, completion), sent)
        else:
            message = record["error"] or f"the stream ended {record['status']}"
            ending = frames.error(record["status"], message, sent)
        return ending + frames.done()
