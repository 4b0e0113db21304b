"""Reading the upstream's answer ahead, while the record's insert is still going on (exchange.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from gateway.upstreams.llm import Chunk, ChunkStream


class ReadAhead:
    """The upstream stream, read in a task of its own from the moment it answered until the relay
    takes it over: the record's insert was still going on, and aiohttp drops the bytes it has
    buffered when the connection then breaks, so an upstream that answers, sends its text and
    fails before anyone read it would lose that text. The relay gets what was read at once, then
    the read in progress, after which the task stops and the relay reads the rest itself."""

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
