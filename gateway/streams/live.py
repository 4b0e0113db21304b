"""The streams this process is generating, by record: a shutdown ends them, followers find them.

A live stream (`relay.Relay`) registers itself while it runs. A follower on this instance (a
resumed `EventSource`) reads its text so far and waits on its `changed` event, which the stream
sets, and replaces, at every chunk while it has followers.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol


class LiveStream(Protocol):
    changed: asyncio.Event  # set, and replaced, when the text grows or the stream ends
    followers: int  # followers waiting on `changed`; the stream wakes them only if any
    outcome: str | None  # the record's status once it has ended
    finished: asyncio.Event  # its end is written

    def text(self) -> str: ...

    def stop(self, reason: str) -> None: ...

    def cancel(self) -> None: ...


@dataclass
class Streams:
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    by_record: dict[uuid.UUID, LiveStream] = field(default_factory=dict)
    settling: set[asyncio.Future[None]] = field(default_factory=set)

    async def settle(self, work: Coroutine[Any, Any, None]) -> None:
        """Work a shutdown must not cut short (the last write of a request it cancelled): run in a
        task of its own, which `shutdown` waits for before the database is closed. It is started
        before this first awaits, so a handler of the cancellation that calls it at once is
        counted: uvicorn cancels the requests, then starts the lifespan's shutdown."""
        task = self.background(work)
        with contextlib.suppress(asyncio.CancelledError):  # cancelled again: the task goes on
            await asyncio.shield(task)

    def background(self, work: Coroutine[Any, Any, None]) -> asyncio.Future[None]:
        """Work no request waits for (a background response): a shutdown waits for it too."""
        task = asyncio.ensure_future(work)
        self.settling.add(task)
        task.add_done_callback(self.settling.discard)
        return task

    async def shutdown(self, grace: float) -> None:
        """Cut every live stream short (each ends `error`, its text kept) and wait, at most
        `grace` seconds, for their ends and every settling write."""
        for stream in list(self.by_record.values()):
            stream.stop("the gateway is shutting down")
        waiters = [asyncio.ensure_future(stream.finished.wait()) for stream in self.by_record.values()]
        pending: list[asyncio.Future[Any]] = [*waiters, *self.settling]
        if pending:
            await asyncio.wait(pending, timeout=grace)
            for waiter in waiters:
                waiter.cancel()
