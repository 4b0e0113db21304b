"""Group commit for one statement: the writes that come while one is in flight go together.

A write that finds none in flight goes at once. Those that arrive meanwhile wait and go as one
batch (one pipelined `executemany`: one round trip, one commit) when it ends, so under a burst
the batches grow with the load, which is when the round trips and commits saved matter. When a
whole batch (MAX_BATCH rows) is waiting it goes at once, beside the one in flight, up to `slots`
batches at a time: one at a time, 1,000 streams ending together waited for five batches in a
row. A batch that fails is retried row by row, so one bad row fails alone. Without `batching`
(SQLite, one shared writer connection) every write goes on its own.

With tracing on, every write to the database is a span (`INSERT records`, with its batch size): a
lone write's is a child of its request's span; a batch's starts a trace of its own, linked to the
span of each request whose row it carries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry.trace import SpanContext

from gateway.observability import tracing

Run = Callable[[str, list[list[Any]]], Awaitable[None]]


class GroupCommit:
    MAX_BATCH = 200

    def __init__(
        self, sql: str, run: Run, batching: bool = True, slots: int = 1, what: tuple[str, str, str] = ("", "", "")
    ) -> None:
        self.sql = sql
        self.run = run
        self.operation, self.table, self.system = what  # for spans: INSERT, records, postgresql
        self.batching = batching
        self.slots = slots
        self.in_flight = 0
        self.pending: list[tuple[list[Any], asyncio.Future[None], SpanContext | None]] = []
        self.drainers: set[asyncio.Future[None]] = set()

    async def write(self, args: list[Any]) -> None:
        """The write, awaited in the caller's task (a lone write runs in it)."""
        if not self.batching:
            await self._run([args])
            return
        if self.in_flight:
            await self._join(args)
            return
        self.in_flight += 1
        await self._alone(args)

    def submit(self, args: list[Any]) -> asyncio.Future[None]:
        """The write started at once, as a future to await later. One that joins a batch is a
        plain future, set when its batch is written: in a burst, no task for each write, and its
        caller resumes straight from the batch (through a task, a turn of the loop later)."""
        if not self.batching:
            return asyncio.ensure_future(self._run([args]))
        if self.in_flight:
            return self._join(args)
        self.in_flight += 1  # now, so the writes that come before its task runs join a batch
        return asyncio.ensure_future(self._alone(args))

    def _join(self, args: list[Any]) -> asyncio.Future[None]:
        joined: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((args, joined, tracing.span_context() if tracing.tracer is not None else None))
        self._drain()  # goes at once only if a whole batch now waits
        return joined

    async def _alone(self, args: list[Any]) -> None:
        try:
            await self._run([args])
        finally:
            self.in_flight -= 1
            self._drain()

    async def _run(self, rows: list[list[Any]], links: list[SpanContext] | None = None) -> None:
        """The statement for these rows; with tracing on, in a span (a batch's in a trace of its own)."""
        if tracing.tracer is None:
            await self.run(self.sql, rows)
            return
        with tracing.write_span(self.operation, self.table, self.system, len(rows), links):
            await self.run(self.sql, rows)

    def _drain(self) -> None:
        """What waits goes in batches of MAX_BATCH, one for each free slot: once nothing is in
        flight, or at once when a whole batch is waiting."""
        if self.in_flight and len(self.pending) < self.MAX_BATCH:
            return  # it joins the batch that goes when the one in flight ends
        while self.pending and self.in_flight < self.slots:
            batch = self.pending[: self.MAX_BATCH]
            del self.pending[: self.MAX_BATCH]
            self.in_flight += 1
            drainer = asyncio.ensure_future(self._write_batch(batch))
            self.drainers.add(drainer)
            drainer.add_done_callback(self.drainers.discard)

    async def _write_batch(self, batch: list[tuple[list[Any], asyncio.Future[None], SpanContext | None]]) -> None:
        try:
            try:
                await self._run([args for args, _, _ in batch], [link for _, _, link in batch if link is not None])
            except Exception:
                for args, waiter, _ in batch:  # each on its own: a bad row fails alone
                    try:
                        await self.run(self.sql, [args])
                    except Exception as exc:
                        _settle(waiter, exc)
                        continue
                    _settle(waiter)
                return
            for _, waiter, _ in batch:
                _settle(waiter)
        finally:
            self.in_flight -= 1
            self._drain()


def _settle(waiter: asyncio.Future[None], failure: Exception | None = None) -> None:
    if waiter.done():  # its caller gave up on it (cancelled)
        return
    if failure is None:
        waiter.set_result(None)
    else:
        waiter.set_exception(failure)
