"""Opening an exchange: the record's insert and the upstream request, side by side, before any byte
goes to the client.

The insert goes on while the upstream is asked (its commit and the upstream's first answer take
about as long), and nothing is relayed before the record exists. A refusal ends the record `error`
and is raised, so the client still gets a status code. A record that cannot be written is a 503,
and stops the upstream request at once: in a database outage every retry of every client would
otherwise reach the upstream, and its bill. A shutdown that cuts a request here still ends its
record (ending.py).
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
import uuid
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import Request

from gateway.access.auth import principal
from gateway.db.stamps import utcnow
from gateway.errors import GatewayError, Unavailable
from gateway.history.store import Store
from gateway.observability import logs
from gateway.streams.ending import end_cut_before_answer, unstarted, write_ending
from gateway.streams.live import Streams
from gateway.streams.readahead import ReadAhead
from gateway.upstreams.llm import LLM, ChunkStream, Completed, Completion, Route

log = logging.getLogger("gateway.exchange")

T = TypeVar("T")


@dataclass
class Exchange:
    """A recorded request whose LLM stream (or, for `whole`, whole answer) has been acquired."""

    chunks: ChunkStream | None
    record_id: uuid.UUID
    conversation_id: uuid.UUID
    completion: Completion
    stream_format: str
    started: float  # perf_counter() when the request arrived
    include_usage: bool = True
    completed: Completed | None = None
    route: Route | None = None  # which upstream answered, the model it was asked for, the attempts
    keep_text: bool = True  # False: the record keeps no text (a response made with store: false)
    left_out: tuple[str, ...] = ()  # what of the request its upstream was not given (its API has no place)

    def __post_init__(self) -> None:
        if self.route is not None and self.route.left_out:
            self.left_out = self.route.left_out

    @property
    def left_out_header(self) -> str:
        """`X-Left-Out`: the names, each percent-encoded where a header could not carry it as it is."""
        return ", ".join(urllib.parse.quote(name, safe=":[]._-*/()") for name in self.left_out)

    @property
    def model(self) -> str:
        """The model that answers (a fallback's, when the model asked for could not)."""
        return self.route.model if self.route else self.completion.model


async def open_exchange(
    request: Request,
    completion: Completion,
    *,
    started: float,
    prompt: str,
    conversation_id: uuid.UUID,
    stream_format: str,
    system: str | None = None,
    include_usage: bool = True,
    kept: Mapping[str, Any] | None = None,
    keep_text: bool = True,
    whole: bool = False,
) -> Exchange:
    """Record the request (`streaming`) while its LLM stream, or with `whole` its whole answer
    (`stream: false`), is acquired. `kept`: more of the record's first write, or other values of
    it (a /v1 request's messages, tools and parameters; a response's own id and time)."""
    state = request.state
    store: Store = state.store
    streams: Streams = state.streams
    now = utcnow()
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "conversation_id": conversation_id,
        "prompt": prompt,
        "model": completion.model,
        "stream_format": stream_format,
        "system": system,
        "temperature": completion.temperature,
        "max_tokens": completion.max_tokens,
        "created_at": now,
        "heartbeat_at": now,
        "instance_id": streams.instance_id,
        "request_id": completion.request_id,
        "api_key_id": principal(request.scope).owner_id,
        **(kept or {}),
    }
    record_id: uuid.UUID = values["id"]
    # ensure_future: the store returns a future; a test's stand-in may be a coroutine.
    insert = asyncio.ensure_future(store.create(**values))
    llm: LLM = state.llm
    call: Coroutine[Any, Any, ChunkStream | Completed] = llm.complete(completion) if whole else llm.open(completion)
    try:
        inner = await UpstreamCall(insert).run(call)
    except asyncio.CancelledError:  # a shutdown: the client gets a 503 (logs.RequestContext)
        await streams.settle(end_cut_before_answer(store, insert, record_id, started))
        raise
    except Unavailable:
        raise  # the record could not be written
    except GatewayError as refused:
        try:
            await wait_for_record(insert)
        except asyncio.CancelledError:
            await streams.settle(end_cut_before_answer(store, insert, record_id, started, error=refused.message))
            raise
        await write_ending(store, record_id, unstarted(started, refused.message))
        logs.fields(request.scope).update(record_id=str(record_id), stream_format=stream_format, outcome="error")
        raise
    if isinstance(inner, Completed):
        try:
            await wait_for_record(insert)
        except asyncio.CancelledError:
            await streams.settle(end_cut_before_answer(store, insert, record_id, started))
            raise
        return Exchange(
            None,
            record_id,
            conversation_id,
            completion,
            stream_format,
            started,
            include_usage,
            inner,
            inner.route,
            keep_text,
        )
    chunks: ChunkStream = inner if insert.done() else ReadAhead(inner)
    try:
        await wait_for_record(insert)
    except asyncio.CancelledError:
        await streams.settle(end_cut_before_answer(store, insert, record_id, started, chunks))
        raise
    except Unavailable:
        await chunks.aclose()
        raise
    route = getattr(inner, "route", None)  # a RoutedStream knows which upstream it is
    return Exchange(
        chunks, record_id, conversation_id, completion, stream_format, started, include_usage, None, route, keep_text
    )


async def wait_for_record(insert: asyncio.Future[None]) -> None:
    """Until the record's insert is done; a failed one is a 503. A request cancelled meanwhile (a
    shutdown) still has its record: the insert is shielded."""
    try:
        await asyncio.shield(insert)
    except Exception as exc:
        log.error("could not create a record: %s", exc)
        raise Unavailable("the gateway's database is unavailable; try again shortly") from None


class UpstreamCall:
    """The upstream request, made in the current task while the record's insert goes on.

    In the request's own step, not a task of its own: in a burst, a task would run only after
    every other request's first step. An insert that fails meanwhile cancels the request, and that
    cancellation (told from one that came from outside, and taken back) becomes the 503 of a
    record that could not be written. The insert's callback also retrieves every failed insert's
    exception, so one nobody awaits is not logged."""

    def __init__(self, insert: asyncio.Future[None]) -> None:
        self.insert = insert
        self.task: asyncio.Task[Any] | None = None
        self.cancelled_it = False
        insert.add_done_callback(self._inserted)

    def _inserted(self, insert: asyncio.Future[None]) -> None:
        if not insert.cancelled() and insert.exception() is not None and self.task is not None:
            self.cancelled_it = True
            self.task.cancel()

    async def run(self, call: Coroutine[Any, Any, T]) -> T:
        self.task = asyncio.current_task()
        try:
            return await call
        except asyncio.CancelledError:
            if not self.cancelled_it or self.task is None:
                raise  # cancelled from outside (shutdown): the insert finishes alone
            self.task.uncancel()
            await wait_for_record(self.insert)  # raises Unavailable
            raise
        finally:
            self.task = None
