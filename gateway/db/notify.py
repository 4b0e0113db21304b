"""Wake-ups for followers of a record that another instance is generating (PostgreSQL LISTEN/NOTIFY).

The writer's checkpoint and end statements NOTIFY `CHANNEL` with the record's id (see
`database.PostgresWriter.notifying`); one connection per process LISTENs. Without it (SQLite, or
while that connection is being made again after the server went away) `wait()` simply times out
and the follower polls.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import asyncpg

log = logging.getLogger("gateway.notify")

CHANNEL = "gateway_progress"
RECONNECT_SECONDS = 5.0


class Listener:
    def __init__(self, database_url: str, kind: str) -> None:
        self.url = database_url
        self.kind = kind
        self.waiters: dict[uuid.UUID, set[asyncio.Event]] = {}
        self.connection: Any = None
        self._tried_at = 0.0

    @property
    def listening(self) -> bool:
        return self.connection is not None and not self.connection.is_closed()

    async def start(self) -> None:
        if self.kind != "postgresql" or self.listening:
            return
        self._tried_at = time.monotonic()
        try:
            self.connection = await asyncpg.connect(self.url, timeout=5)
            await self.connection.add_listener(CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            self.connection = None
            log.warning("cannot LISTEN for record changes (followers will poll): %s", exc)

    def _notified(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        if not self.waiters:  # every record's end is announced; mostly nobody here follows one
            return
        try:
            record_id = uuid.UUID(payload)
        except ValueError:
            return
        for event in self.waiters.get(record_id, ()):
            event.set()

    async def wait(self, record_id: uuid.UUID, seconds: float) -> bool:
        """Until the record changes (True) or `seconds` pass (False)."""
        if not self.listening and self.kind == "postgresql" and time.monotonic() - self._tried_at > RECONNECT_SECONDS:
            await self.start()
        event = asyncio.Event()
        self.waiters.setdefault(record_id, set()).add(event)
        try:
            async with asyncio.timeout(seconds):
                await event.wait()
            return True
        except TimeoutError:
            return False
        finally:
            waiting = self.waiters.get(record_id)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self.waiters[record_id]

    async def close(self) -> None:
        if self.connection is not None and not self.connection.is_closed():
            await self.connection.close()
