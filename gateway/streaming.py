"""/stream: validate, record, acquire the upstream, relay it in one of three formats, finalise.

The upstream stream is acquired before the response starts, so a refusal becomes a real
status code. After that, failures are reported inside the stream: a chunk `{"error": …}` (in
`sse`, followed by `[DONE]`); in `text` the body just stops and the record holds the error.

Every record ends in exactly one state. `complete`: the upstream finished. `error`: it failed,
or the stream was cut by a shutdown. `cancelled`: the client went away (with
`on_disconnect=detach` the generation runs on to its end instead). The text relayed so far is
kept in every case. The final write is retried; if the database still refuses, the whole record
goes to the log at ERROR, so nothing is lost silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway import formats, logs, metrics
from gateway.auth import principal
from gateway.errors import GatewayError, NotFound, Unavailable
from gateway.inputs import StreamParams
from gateway.llm import (
    LLM,
    Chunk,
    ChunkStream,
    Completion,
    StreamFailed,
    Usage,
    estimate_prompt_tokens,
    estimate_tokens,
)
from gateway.settings import Settings
from gateway.store import Store, utcnow

log = logging.getLogger("gateway.streaming")

CONTENT_TYPES = {
    "text": "text/plain; charset=utf-8",
    "openai": "application/x-ndjson",
    "sse": "text/event-stream; charset=utf-8",
    "chat.completions": "text/event-stream; charset=utf-8",
}
FINALISE_ATTEMPTS = 4
SHUTDOWN_CUT = "the gateway is shutting down; the answer was cut short"
SHUTDOWN_UNANSWERED = "the gateway is shutting down; the answer had not started"
CHECKPOINT_SECONDS = 0.5


@dataclass
class Streams:
    """The streams this process is relaying, by record: shutdown finalises them, followers find them."""

    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    by_record: dict[uuid.UUID, Relay] = field(default_factory=dict)
    settling: set[asyncio.Future[None]] = field(default_factory=set)

    async def settle(self, work: Coroutine[Any, Any, None]) -> None:
        """Work a shutdown must not cut short (the last write of a request it cancelled): run in a
        task of its own, which `shutdown` waits for before the database is closed. It is started
        before this first awaits, so a handler of the cancellation that calls it at once is
        counted: uvicorn cancels the requests, then starts the lifespan's shutdown."""
        task = asyncio.ensure_future(work)
        self.settling.add(task)
        task.add_done_callback(self.settling.discard)
        with contextlib.suppress(asyncio.CancelledError):  # cancelled again: the task goes on
            await asyncio.shield(task)

    async def shutdown(self, grace: float) -> None:
        for relay in list(self.by_record.values()):
            relay.stop("the gateway is shutting down")
        waiters = [asyncio.ensure_future(relay.finished.wait()) for relay in self.by_record.values()]
        pending: list[asyncio.Future[Any]] = [*waiters, *self.settling]
        if pending:
            await asyncio.wait(pending, timeout=grace)
            for waiter in waiters:
                waiter.cancel()


def build_messages(params: StreamParams, turns: list[tuple[str, str]]) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    if params.system:
        messages.append({"role": "system", "content": params.system})
    for prompt, response in turns:
        messages.append({"role": "user", "content": prompt})
        if response:
            messages.append({"role": "assistant", "content": response})
    messages.append({"role": "user", "content": params.prompt})
    return messages


async def start_stream(request: Request, params: StreamParams) -> Response:
    started = time.perf_counter()
    store: Store = request.state.store
    caller = principal(request.scope)
    turns: list[tuple[str, str]] = []
    conversation_id = params.conversation_id
    if conversation_id is not None:
        earlier = await store.conversation(conversation_id, owner=caller.owner)
        if earlier is None:
            raise NotFound(f"conversation {conversation_id} not found")
        turns = earlier
    exchange = await open_exchange(
        request,
        started=started,
        prompt=params.prompt,
        messages=build_messages(params, turns),
        conversation_id=conversation_id or uuid.uuid4(),
        model=params.model,
        stream_format=params.stream_format,
        system=params.system,
        temperature=params.temperature,
        max_tokens=params.max_tokens,
    )
    return Relay(exchange, request.state.store, request.state.streams, request.state.settings, params.on_disconnect)


@dataclass
class Exchange:
    """A recorded request whose LLM stream has been acquired."""

    chunks: ChunkStream
    record_id: uuid.UUID
    conversation_id: uuid.UUID
    completion: Completion
    stream_format: str
    started: float
    include_usage: bool = True


async def open_exchange(
    request: Request,
    *,
    started: float,
    prompt: str,
    messages: list[dict[str, str]],
    conversation_id: uuid.UUID,
    model: str | None,
    stream_format: str,
    system: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    stop: list[str] | None = None,
    user: str | None = None,
    include_usage: bool = True,
    keep_messages: bool = False,
) -> Exchange:
    """Record the request (`streaming`) while the LLM stream is acquired. A refusal ends the
    record `error` and is raised, so the client still gets a status code; a record that cannot be
    written is a 503 (the upstream stream, if acquired, is closed)."""
    state = request.state
    settings: Settings = state.settings
    store: Store = state.store
    llm: LLM = state.llm
    streams: Streams = state.streams
    rid = logs.request_id(request.scope)
    model = model or settings.openai_model
    record_id = uuid.uuid4()
    now = utcnow()
    # The insert goes on while the upstream is asked (its commit and the upstream's first answer
    # take about as long); the stream is relayed only once the record exists. (ensure_future: the
    # store returns a future; a test's stand-in may be a coroutine.)
    insert = asyncio.ensure_future(
        store.create(
            id=record_id,
            conversation_id=conversation_id,
            prompt=prompt,
            status="streaming",
            model=model,
            stream_format=stream_format,
            system=system,
            temperature=temperature,
            max_tokens=max_tokens,
            created_at=now,
            heartbeat_at=now,
            instance_id=streams.instance_id,
            request_id=rid,
            api_key_id=principal(request.scope).key_id,
            messages=json.dumps(messages, ensure_ascii=False) if keep_messages else None,
        )
    )
    completion = Completion(
        messages=messages,
        model=model,
        temperature=temperature,
        max_tokens=max_tokens,
        request_id=rid,
        stop=stop or [],
        user=user,
    )
    # The upstream request is written in this task's own step, before anything else is scheduled:
    # in a burst, a task started for it would run only after every other request's first step
    # (1,000 requests: the first upstream request would go out after all 1,000 were parsed).
    # A record that cannot be written stops the upstream request at once: in a database outage
    # every retry of every client would otherwise reach the upstream (and its bill).
    try:
        inner = await Opening(insert).open(llm, completion)
    except asyncio.CancelledError:  # a shutdown: the client gets a 503 (logs.RequestContext)
        await streams.settle(_unanswered(store, insert, record_id, started))
        raise
    except Unavailable:
        raise  # the record could not be written
    except GatewayError as exc:
        try:
            await _recorded(insert)
        except asyncio.CancelledError:
            await streams.settle(_unanswered(store, insert, record_id, started, error=exc.message))
            raise
        await _end_unstarted(store, record_id, started, exc.message)
        logs.fields(request.scope).update(record_id=str(record_id), stream_format=stream_format, outcome="error")
        raise
    chunks: ChunkStream = inner if insert.done() else ReadAhead(inner)
    try:
        await _recorded(insert)
    except asyncio.CancelledError:
        await streams.settle(_unanswered(store, insert, record_id, started, chunks))
        raise
    except Unavailable:
        await chunks.aclose()
        raise
    return Exchange(chunks, record_id, conversation_id, completion, stream_format, started, include_usage)


async def _recorded(insert: asyncio.Future[None]) -> None:
    try:
        await asyncio.shield(insert)  # a request cancelled meanwhile (shutdown) still has its record
    except Exception as exc:
        log.error("could not create a record: %s", exc)
        raise Unavailable("the gateway's database is unavailable; try again shortly") from None


async def _unanswered(
    store: Store,
    insert: asyncio.Future[None],
    record_id: uuid.UUID,
    started: float,
    chunks: ChunkStream | None = None,
    error: str = SHUTDOWN_UNANSWERED,
) -> None:
    """A request a shutdown cancelled before its stream started: its upstream stream is closed and
    its record, once written, ends `error` (with nothing relayed, the client is told 503)."""
    if chunks is not None:
        with contextlib.suppress(Exception):
            await chunks.aclose()
    try:
        await insert
    except Exception:
        return  # never written (and logged as such)
    await _end_unstarted(store, record_id, started, error)


async def _end_unstarted(store: Store, record_id: uuid.UUID, started: float, error: str) -> None:
    """The end of a record whose stream never started (refused, or cut by a shutdown)."""
    values = {
        "status": "error",
        "error": error,
        "completed_at": utcnow(),
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
    }
    await finalise(store, record_id, values)


class Opening:
    """The upstream request, opened in the current task while the record's insert goes on: an
    insert that fails meanwhile cancels it, and that cancellation (told from one that came from
    outside, and taken back) becomes the 503 of a record that could not be written. The insert's
    callback also retrieves every failed insert's exception, so one nobody awaits is not logged."""

    def __init__(self, insert: asyncio.Future[None]) -> None:
        self.insert = insert
        self.task: asyncio.Task[Any] | None = None
        self.cancelled_it = False
        insert.add_done_callback(self._inserted)

    def _inserted(self, insert: asyncio.Future[None]) -> None:
        if not insert.cancelled() and insert.exception() is not None and self.task is not None:
            self.cancelled_it = True
            self.task.cancel()

    async def open(self, llm: LLM, completion: Completion) -> ChunkStream:
        self.task = asyncio.current_task()
        try:
            return await llm.open(completion)
        except asyncio.CancelledError:
            if not self.cancelled_it or self.task is None:
                raise  # cancelled from outside (shutdown): the insert finishes alone
            self.task.uncancel()
            await _recorded(self.insert)  # raises Unavailable
            raise
        finally:
            self.task = None


class ReadAhead:
    """The upstream stream, read in a task of its own from the moment it answered until the relay
    takes it over: the record's insert was still going on, and aiohttp drops the bytes it has
    buffered when the connection then breaks, so an upstream that answers, sends its text and
    fails before anyone read it would lose that text. The relay gets what was read at once, then
    the read in progress, after which the task stops and the relay reads the rest itself.
    """

    def __init__(self, inner: ChunkStream) -> None:
        self.inner = inner
        self.iterator: AsyncIterator[Chunk] = aiter(inner)
        self.buffered: list[Chunk] = []
        self.failure: Exception | None = None
        self.ended = False
        self.taken = False
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            while not self.taken:
                self.buffered.append(await anext(self.iterator))
        except StopAsyncIteration:
            self.ended = True
        except Exception as exc:  # raised to the relay after the text read before it
            self.failure = exc

    def __aiter__(self) -> ReadAhead:
        return self

    async def __anext__(self) -> Chunk:
        if self.buffered:  # what was read ahead goes out at once
            return self.buffered.pop(0)
        if not self.taken:
            self.taken = True
            if not self.task.done():
                await self.task  # its read in progress is the next chunk; then it stops
            if self.buffered:
                return self.buffered.pop(0)
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure
        if self.ended:
            raise StopAsyncIteration
        return await anext(self.iterator)

    async def aclose(self) -> None:
        self.taken = True
        if not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        await self.inner.aclose()


async def finalise(store: Store, record_id: uuid.UUID, values: dict[str, Any]) -> None:
    """A record's last write, retried. One cancellation does not cut it: a shutdown that cancels a
    stream as it writes its end (uvicorn's grace is over) has it written again at once (an UPDATE
    by id) before the lifespan closes the database, and the task goes on as if not cancelled."""
    delay = 0.25
    attempt = 1
    cut = False
    while True:
        try:
            if attempt > 1:
                await asyncio.sleep(delay)
                delay *= 2
            await store.finish(record_id, **values)
            return
        except asyncio.CancelledError:
            if cut:
                raise
            cut = True
        except Exception as exc:
            if attempt == FINALISE_ATTEMPTS:
                record = {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in values.items()}
                log.error(
                    "could not write the end of record %s after %d attempts (%s); the record follows",
                    record_id,
                    attempt,
                    exc,
                    extra={"record_id": str(record_id), "record": record},
                )
                return
            attempt += 1


class Relay(Response):
    """The streaming response: relays one LLM stream to one client, then finalises its record."""

    def __init__(
        self, exchange: Exchange, store: Store, streams: Streams, settings: Settings, on_disconnect: str = "cancel"
    ) -> None:
        self.chunks = exchange.chunks
        self.store = store
        self.streams = streams
        self.settings = settings
        self.record_id = exchange.record_id
        self.model = exchange.completion.model
        self.on_disconnect = on_disconnect
        self.completion = exchange.completion
        self.started = exchange.started
        self.format = exchange.stream_format
        self.include_usage = exchange.include_usage
        self.status_code = 200
        self.background = None
        self.parts: list[str] = []
        self.offset = 0
        self.ttft: float | None = None
        self.upstream_ended = False  # read to its end (and so closed already)
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.client_gone = False
        self.stop_reason: str | None = None
        self.done = False
        self.finished = asyncio.Event()
        self.last_sent = 0.0
        self.sending = False
        self.task: asyncio.Task[Any] | None = None
        self.side_sends: set[asyncio.Future[None]] = set()
        self.keepalive: asyncio.TimerHandle | None = None
        self.keepalive_send: Send | None = None
        # Detached streams checkpoint their text for followers on other instances (a stream that
        # is cancelled when its client leaves has its whole text in its final write, and nobody
        # to follow it before); followers on this instance wait on `progress`, swapped for a
        # new event at each change.
        self.checkpointing = on_disconnect == "detach"
        self.checkpoint_task: asyncio.Future[None] | None = None
        self.last_checkpoint = 0.0
        self.followers = 0
        self.progress = asyncio.Event()
        self.outcome: str | None = None
        record_id = self.record_id
        self.event_prefix = f"{record_id}:"
        self.encoder = formats.ChunkEncoder(f"chatcmpl-{record_id.hex}", self.model, int(time.time()))
        self.raw_headers = [
            (b"content-type", CONTENT_TYPES[self.format].encode()),
            (b"cache-control", b"no-cache, no-transform"),
            (b"x-accel-buffering", b"no"),
            (b"x-record-id", str(record_id).encode()),
            (b"x-conversation-id", str(exchange.conversation_id).encode()),
        ]

    def stop(self, reason: str) -> None:
        """Cut the stream short from outside (shutdown): it ends as an error, text kept."""
        if not self.done and self.task is not None:
            self.stop_reason = reason
            self.task.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.task = asyncio.current_task()
        self.streams.by_record[self.record_id] = self
        metrics.ACTIVE.inc()
        watcher = asyncio.ensure_future(self._watch(receive))
        outcome = "error"
        error: tuple[str, str] | None = None
        try:
            if self.format == "sse":
                self._keep_alive(send)
            outcome, error = await self._pump(send)
        except asyncio.CancelledError:
            self.done = True  # so a second cancellation (the lifespan's `stop`) cannot cut the ending
            if self.client_gone:
                outcome, error = "cancelled", None
            else:
                reason = self.stop_reason or SHUTDOWN_CUT
                outcome, error = "error", ("shutdown", reason)
                await self._send_error_ending(send, error)
        finally:
            self.done = True
            watcher.cancel()
            self._stop_keep_alive()
            await self._close_upstream()
        await self._finalise(scope, outcome, error)
        await self._close_body(send)

    async def _watch(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.client_gone = True
                if self.on_disconnect == "cancel" and not self.done and self.task is not None:
                    self.task.cancel()
                return

    async def _send(self, send: Send, data: bytes) -> None:
        if self.client_gone:
            return
        self.sending = True
        try:
            await send({"type": "http.response.body", "body": data, "more_body": True})
        finally:
            self.sending = False
            self.last_sent = time.monotonic()

    def _keep_alive(self, send: Send) -> None:
        """Send a comment after each `sse_keepalive_seconds` of silence, until `_stop_keep_alive`.

        A timer, not a task per chunk: the relay only stamps `last_sent`, which costs nothing.
        Methods, not a closure that schedules itself: that closure would hold itself (and so the
        whole stream, its text and its upstream response) in a cycle until a garbage collection.
        """
        self.keepalive_send = send
        self.keepalive = asyncio.get_running_loop().call_later(self.settings.sse_keepalive_seconds, self._tick)

    def _tick(self) -> None:
        if self.done or self.keepalive_send is None:
            return
        interval = self.settings.sse_keepalive_seconds
        idle = time.monotonic() - self.last_sent
        if idle >= interval and not self.sending:
            side = asyncio.ensure_future(self._send(self.keepalive_send, formats.SSE_KEEPALIVE))
            self.side_sends.add(side)
            side.add_done_callback(self.side_sends.discard)
            idle = 0.0
        self.keepalive = asyncio.get_running_loop().call_later(max(interval - idle, 0.05), self._tick)

    def _stop_keep_alive(self) -> None:
        if self.keepalive is not None:
            self.keepalive.cancel()
        self.keepalive = None
        self.keepalive_send = None

    def _frame(self, data: str) -> bytes:
        if self.format == "openai":
            return formats.ndjson(data)
        if self.format == "sse":
            return formats.sse(data, f"{self.event_prefix}{self.offset}")
        return formats.sse(data)  # /v1/chat/completions: OpenAI's own SSE, without ids

    def _encode_text(self, text: str) -> bytes:
        if self.format == "text":
            return text.encode()
        return self._frame(self.encoder.content(text))

    async def _pump(self, send: Send) -> tuple[str, tuple[str, str] | None]:
        """Relay every chunk as it comes: one write per chunk the upstream gave at once."""
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        self.last_sent = time.monotonic()
        structured = self.format != "text"
        if structured:
            await self._send(send, self._frame(self.encoder.role()))
        deadline = self.started + self.settings.max_stream_seconds
        parts = self.parts
        error: tuple[str, str] | None = None
        gap = metrics.GAP.observe
        last = time.perf_counter()
        try:
            chunk: Chunk
            async for chunk in self.chunks:
                now = time.perf_counter()
                out = b""
                text = chunk.text
                if text:
                    if self.ttft is None:
                        self.ttft = now - self.started
                    else:
                        gap(now - last)
                    last = now
                    parts.append(text)
                    self.offset += len(text)
                    out = self._encode_text(text)
                if chunk.finish_reason is not None and self.finish_reason is None:
                    self.finish_reason = chunk.finish_reason
                    if structured:
                        out += self._frame(self.encoder.finish(chunk.finish_reason))
                if chunk.usage is not None:
                    self.usage = chunk.usage
                if out:
                    await self._send(send, out)
                if self.followers:
                    self._wake_followers()
                if self.checkpointing and text and now - self.last_checkpoint >= CHECKPOINT_SECONDS:
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
        if error is None and self.finish_reason is None:
            error = ("upstream_error", "the upstream closed the stream before it finished")
        if error is not None:
            await self._send_error_ending(send, error)
            return "error", error
        if self.usage is None:
            self.usage = Usage(
                prompt_tokens=estimate_prompt_tokens(self.completion.messages),
                completion_tokens=estimate_tokens("".join(parts)),
                estimated=True,
            )
        ending = b""
        if structured:
            if self.include_usage:
                ending = self._frame(self.encoder.usage(self.usage.prompt_tokens, self.usage.completion_tokens))
            if self.format != "openai":
                ending += formats.SSE_DONE
        await self._end(send, ending)
        return "complete", None

    async def _send_error_ending(self, send: Send, error: tuple[str, str]) -> None:
        if self.client_gone:
            return
        ending = b""
        if self.format != "text":
            ending = self._frame(formats.error_chunk(*error))
            if self.format != "openai":
                ending += formats.SSE_DONE
        try:
            await self._end(send, ending)
        except Exception:  # the client may be gone already; the record still holds the error
            pass

    async def _end(self, send: Send, ending: bytes) -> None:
        """The last bytes, at once; the body is closed after the record is written, so a client
        that reads the record as soon as its body ends finds it finished."""
        if ending and not self.client_gone:
            await send({"type": "http.response.body", "body": ending, "more_body": True})

    async def _close_body(self, send: Send) -> None:
        if not self.client_gone:
            with contextlib.suppress(Exception):  # the client may have left meanwhile
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    def text(self) -> str:
        return "".join(self.parts)

    def _wake_followers(self) -> None:
        self.progress.set()
        self.progress = asyncio.Event()

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

    async def _finalise(self, scope: Scope, outcome: str, error: tuple[str, str] | None) -> None:
        duration = time.perf_counter() - self.started
        response = "".join(self.parts)
        usage = self.usage
        values: dict[str, Any] = {
            "status": outcome,
            "response": response,
            "error": error[1] if error else None,
            "completed_at": utcnow(),
            "ttft_ms": round(self.ttft * 1000, 3) if self.ttft is not None else None,
            "duration_ms": round(duration * 1000, 3),
            "prompt_tokens": usage.prompt_tokens if usage else None,
            "completion_tokens": usage.completion_tokens if usage else None,
            "usage_estimated": usage.estimated if usage else False,
        }
        if outcome == "cancelled":
            outcome = "cancelled_before_first_token" if self.ttft is None else "cancelled_after_first_token"
        metrics.labelled(metrics.STREAMS, outcome, self.format).inc()
        metrics.DURATION.observe(duration)
        if self.ttft is not None:
            metrics.TTFT.observe(self.ttft)
        if usage is not None:
            metrics.labelled(metrics.TOKENS, "in").inc(usage.prompt_tokens)
            metrics.labelled(metrics.TOKENS, "out").inc(usage.completion_tokens)
        if self.checkpoint_task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):  # a shutdown's: the end is written
                await self.checkpoint_task
        try:
            await finalise(self.store, self.record_id, values)
        finally:
            self.outcome = values["status"]
            self._wake_followers()
            self.streams.by_record.pop(self.record_id, None)
            metrics.ACTIVE.dec()
            self.finished.set()
            logs.fields(scope).update(
                record_id=str(self.record_id),
                stream_format=self.format,
                ttft_ms=values["ttft_ms"],
                outcome=outcome,
            )

    # Starlette's Response API, unused: the body is streamed by __call__.
    def render(self, content: Any) -> bytes:  # pragma: no cover
        return b""
