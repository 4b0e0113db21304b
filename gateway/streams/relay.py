"""The relay: one LLM stream to one client, in its format, then the record's end.

The relay is a `StreamedResponse` (streamed.py: headers, disconnect watcher, keep-alives) whose
body is the pump: every chunk encoded and sent as it comes, the text kept, checkpoints written for
detached streams, followers on this instance woken.

Every stream ends in exactly one way: as OpenAI ends it (finish, then usage) or with an error
chunk; `[DONE]` follows either in SSE; in `text` the body just stops and the record holds the
error. The record ends `complete`, `error` (the upstream failed, or a shutdown cut it: its text
kept) or `cancelled` (the client left: the upstream request is closed at once; with
`on_disconnect=detach` the generation runs on to its end instead). The body closes only after
the record's end is written, so a client that reads its record as soon as its body ends finds it
finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable

from starlette.types import Scope

from gateway.history.messages import dumps
from gateway.history.store import Store
from gateway.observability import logs, metrics
from gateway.settings import Settings
from gateway.streams import formats
from gateway.streams.answer import Answer
from gateway.streams.ending import SHUTDOWN_CUT, write_ending
from gateway.streams.exchange import Exchange
from gateway.streams.live import Streams
from gateway.streams.streamed import StreamedResponse, stream_headers
from gateway.upstreams.llm import Chunk, StreamFailed

log = logging.getLogger("gateway.relay")

CHECKPOINT_SECONDS = 0.5


KEPT_ALIVE = frozenset(("sse", "responses", "messages"))  # the formats an EventSource or a proxy may give up on


class Relay(StreamedResponse):
    def __init__(
        self,
        exchange: Exchange,
        store: Store,
        streams: Streams,
        settings: Settings,
        on_disconnect: str = "cancel",
        frames: Callable[[Answer], formats.Frames] | None = None,
    ) -> None:
        """`frames`: the events of a format of its own, made from the answer they tell (Responses)."""
        record_id = exchange.record_id
        self.answer = Answer(exchange.started, exchange.completion.messages, exchange.route)
        self.frames = (
            frames(self.answer)
            if frames is not None
            else formats.frames_for(
                exchange.stream_format,
                str(record_id),
                record_id.hex,
                exchange.model,
                int(time.time()),
                exchange.route is None or exchange.route.api == "chat",
            )
        )
        keepalive = settings.sse_keepalive_seconds if exchange.stream_format in KEPT_ALIVE else None
        headers = stream_headers(self.frames.content_type, record_id, exchange.conversation_id)
        if exchange.route is not None:
            headers.append((b"x-upstream", exchange.route.upstream.encode()))
        if exchange.left_out:
            headers.append((b"x-left-out", exchange.left_out_header.encode()))
        super().__init__(headers, keepalive)
        self.exchange = exchange
        assert exchange.chunks is not None
        self.chunks = exchange.chunks
        self.record_id = record_id
        self.store = store
        self.streams = streams
        self.settings = settings
        self.detached = on_disconnect == "detach"
        self.upstream_ended = False  # read to its end (and so closed already)
        self.stop_reason: str | None = None
        self.cancelled = False  # stopped as its client asked (cancel), not by a shutdown
        self.done = False  # past the point where a cancellation could cut the relay
        # Followers on this instance wait on `changed`; detached streams also checkpoint their text
        # for followers on other instances (a cancelled stream has its whole text in its final
        # write, and nobody to follow it before).
        self.changed = asyncio.Event()
        self.followers = 0
        self.outcome: str | None = None
        self.finished = asyncio.Event()
        self.checkpoint_task: asyncio.Future[None] | None = None
        self.last_checkpoint = 0.0
        self.checkpointed = self.detached and exchange.keep_text

    def text(self) -> str:
        return self.answer.text()

    def stop(self, reason: str) -> None:
        """Cut the stream short from outside (shutdown): it ends as an error, text kept."""
        if not self.done and self.task is not None:
            self.stop_reason = reason
            self.task.cancel()

    def cancel(self) -> None:
        """Stop the stream as the client asked (a background response's cancel): it ends `cancelled`,
        its text kept."""
        if not self.done and self.task is not None:
            self.cancelled = True
            self.task.cancel()

    def client_left(self) -> None:
        if not self.detached and not self.done:
            super().client_left()

    async def stream(self, scope: Scope) -> None:
        self.streams.by_record[self.record_id] = self
        metrics.ACTIVE.inc()
        status: str = "error"
        error: tuple[str, str] | None = None
        try:
            status, error = await self._pump()
        except asyncio.CancelledError:
            self.done = True  # so a second cancellation (the lifespan's `stop`) cannot cut the ending
            if self.client_gone or self.cancelled:
                status, error = "cancelled", None
            else:
                status, error = "error", ("shutdown", self.stop_reason or SHUTDOWN_CUT)
                await self._end_with_error(error)
        finally:
            self.done = True
            self.quiet()
            await self._close_upstream()
        await self._end_record(scope, status, error)

    async def _pump(self) -> tuple[str, tuple[str, str] | None]:
        """Relay every chunk as it comes: one write for each read the upstream gave at once."""
        frames, answer, write = self.frames, self.answer, self.write
        await self.start()
        await write(frames.role())
        deadline = answer.started + self.settings.max_stream_seconds
        error: tuple[str, str] | None = None
        gap = metrics.GAP.observe
        last = 0.0
        passthrough = frames.passthrough
        rewrite = frames.relay if type(frames).relay is not formats.TextFrames.relay else None
        try:
            chunk: Chunk
            async for chunk in self.chunks:
                now = time.perf_counter()
                text = chunk.text
                if text:
                    if answer.first is not None:
                        gap(now - last)
                    last = now
                    answer.add(text, now)
                thought = chunk.reasoning or chunk.thinking
                if thought:
                    answer.add_reasoning(chunk.reasoning, chunk.thinking, now)
                if passthrough:
                    out = chunk.raw if rewrite is None else rewrite(chunk.raw, answer.length)
                elif thought:
                    out = frames.reasoning(chunk.reasoning, chunk.thinking, answer.length)
                    if text:
                        out += frames.content(text, answer.length)
                else:
                    out = frames.content(text, answer.length) if text else b""
                if chunk.tool_calls:
                    answer.add_calls(chunk.tool_calls, now)
                    if not passthrough:
                        out += frames.calls(chunk.tool_calls, answer.length)
                if chunk.finish_reason is not None and answer.finish_reason is None:
                    answer.finish_reason = chunk.finish_reason
                    out += frames.finish(chunk.finish_reason, answer.length)
                if chunk.usage is not None:
                    answer.usage = chunk.usage
                await write(out)
                if self.followers:
                    self._wake_followers()
                if self.checkpointed and text and now - self.last_checkpoint >= CHECKPOINT_SECONDS:
                    self._checkpoint(now)
                if now > deadline:
                    limit = self.settings.max_stream_seconds
                    error = ("stream_too_long", f"the stream ran past MAX_STREAM_SECONDS ({limit:g} s)")
                    break
            else:
                self.upstream_ended = True
        except StreamFailed as exc:
            error = (exc.type, exc.message)
        except Exception:
            log.exception("relaying record %s failed", self.record_id)
            error = ("internal_error", "the gateway failed while relaying the answer")
        error = error or answer.unfinished()
        if error is not None:
            await self._end_with_error(error)
            return "error", error
        relayed = passthrough and answer.usage is not None  # the upstream's usage chunk went out as it came
        usage = answer.final_usage()
        ending = b""
        if self.exchange.include_usage and not relayed:
            ending = frames.usage(usage, answer.length)
        await write(ending + frames.done())
        return "complete", None

    async def _end_with_error(self, error: tuple[str, str]) -> None:
        frames = self.frames
        with contextlib.suppress(Exception):  # the client may be gone already; the record still holds the error
            await self.write(frames.error(*error, self.answer.length) + frames.done())

    def _wake_followers(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    def _checkpoint(self, now: float) -> None:
        """Write the text so far in the background; one write at a time, never on the hot path."""
        if self.checkpoint_task is not None and not self.checkpoint_task.done():
            return
        self.last_checkpoint = now
        self.checkpoint_task = asyncio.ensure_future(self._write_checkpoint(self.text()))

    async def _write_checkpoint(self, text: str) -> None:
        try:
            await self.store.checkpoint(self.record_id, text)
        except Exception as exc:  # the final write still records everything
            log.warning("checkpoint of record %s failed: %s", self.record_id, exc)

    async def _close_upstream(self) -> None:
        try:
            if self.upstream_ended:  # closed as it ended: nothing to wait for, no timer needed
                await self.chunks.aclose()
                return
            async with asyncio.timeout(1.0):  # not wait_for: that is a task for every stream
                await self.chunks.aclose()
        except (Exception, asyncio.CancelledError):
            log.warning("closing the upstream stream of record %s failed", self.record_id, exc_info=True)

    async def _end_record(self, scope: Scope, status: str, error: tuple[str, str] | None) -> None:
        """Metrics, the record's last write, the followers woken, the access line's fields."""
        answer = self.answer
        ending = answer.ending(status, error[1] if error else None)
        if self.exchange.left_out:
            ending = dataclasses.replace(ending, left_out=dumps(list(self.exchange.left_out)))
        if not self.exchange.keep_text:
            ending = ending.without_text()
        ttft = answer.ttft
        outcome = status
        if status == "cancelled":
            outcome = "cancelled_before_first_token" if ttft is None else "cancelled_after_first_token"
        metrics.labelled(metrics.STREAMS, outcome, self.exchange.stream_format).inc()
        metrics.DURATION.observe(time.perf_counter() - answer.started)
        if ttft is not None:
            metrics.TTFT.observe(ttft)
        if answer.usage is not None:
            metrics.labelled(metrics.TOKENS, "in").inc(answer.usage.prompt_tokens)
            metrics.labelled(metrics.TOKENS, "out").inc(answer.usage.completion_tokens)
        if self.checkpoint_task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):  # a shutdown's: the end is written
                await self.checkpoint_task
        try:
            await write_ending(self.store, self.record_id, ending)
        finally:
            self.outcome = status
            self._wake_followers()
            self.streams.by_record.pop(self.record_id, None)
            metrics.ACTIVE.dec()
            self.finished.set()
            logs.fields(scope).update(
                record_id=str(self.record_id),
                stream_format=self.exchange.stream_format,
                ttft_ms=ending.ttft_ms,
                outcome=outcome,
                upstream=ending.upstream,
                attempts=ending.attempts,
            )
