"""The gateway's database connections: `databases` for queries, a writer of its own for the hot path.

Reads and rare writes (history, search, keys, heartbeats) go through `databases` and SQLAlchemy
Core. The two writes on every stream's path (its insert and its end) and its checkpoints skip
SQLAlchemy's per-call compilation and `databases`' connection wrapper: fixed SQL run by the driver
(docs/performance.md has what each costs). Each dialect's writer, with its SQL quirks, is here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sqlite3
import uuid
from typing import Any, Protocol

import aiosqlite
import asyncpg
from databases import Database

from gateway.db.notify import CHANNEL
from gateway.settings import Settings

log = logging.getLogger("gateway.database")

# What the drivers raise when the database cannot be reached or refuses the work.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    sqlite3.Error,
    ConnectionError,
    TimeoutError,
)
# Up to this many PostgreSQL connections for reads, and as many again for the hot-path writes.
POOL_SIZE = 10
# Each attempt to connect gives up after this long (asyncpg's default is 60 s, as long as a
# platform waits for the port to open: Heroku's boot timeout).
CONNECT_TIMEOUT = 10


async def keep_session(connection: Any) -> None:
    """asyncpg's pool resets every connection it takes back with a query of four statements (an
    extra round trip after each write). Nothing here changes session state (the one `SET` is
    `SET LOCAL`), and asyncpg still rolls back a transaction left open, so there is nothing to reset."""


class GatewayDatabase(Database):
    """`databases.Database` that answers "unavailable" while it is not connected (the process
    started with the database down): its queries raise ConnectionError, which the app turns into a
    503, instead of failing on an assertion inside the driver's backend (a 500)."""

    def connection(self) -> Any:
        if not self.is_connected:
            raise ConnectionError("the gateway is not connected to its database yet")
        return super().connection()


def make_database(settings: Settings) -> Database:
    if settings.database_kind == "sqlite":
        return GatewayDatabase(settings.database_url, timeout=30)
    return GatewayDatabase(
        settings.database_url, min_size=1, max_size=POOL_SIZE, reset=keep_session, timeout=CONNECT_TIMEOUT
    )


async def open_database(database: Database, kind: str) -> None:
    await database.connect()
    if kind == "sqlite":
        await database.execute("PRAGMA journal_mode=WAL")


class Writer(Protocol):
    """Runs fixed SQL for the hot path: one row, or a batch of rows of one statement."""

    batching: bool  # whether a batch is one round trip and one commit (group commits pay off)

    def marks(self, count: int) -> list[str]: ...

    def notifying(self, update: str) -> str: ...

    async def run(self, sql: str, rows: list[list[Any]]) -> None: ...

    async def close(self) -> None: ...


def make_writer(database: Database, kind: str) -> Writer:
    if kind == "sqlite":
        return SqliteWriter(str(database.url.database))
    return PostgresWriter(str(database.url))


class SqliteWriter:
    """One long-lived aiosqlite connection (not a new thread per request), rows one at a time: the
    connection is shared, so a batch could not be made atomic without taking others' writes into it."""

    batching = False

    def __init__(self, path: str) -> None:
        self.path = path
        self.connection: aiosqlite.Connection | None = None

    def marks(self, count: int) -> list[str]:
        return ["?"] * count

    def notifying(self, update: str) -> str:
        return update  # followers on another instance poll SQLite

    async def run(self, sql: str, rows: list[list[Any]]) -> None:
        if self.connection is None:
            self.connection = await aiosqlite.connect(self.path, isolation_level=None, timeout=30)
        for args in rows:
            await self.connection.execute(sql, [sqlite_value(value) for value in args])

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
            self.connection = None


def sqlite_value(value: Any) -> Any:
    """A value as SQLAlchemy stores it in SQLite (so that it reads back through SQLAlchemy)."""
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


class PostgresWriter:
    """A pool of asyncpg connections of its own: each statement is prepared once per connection,
    a batch is pipelined (one round trip, one transaction), and no reset query follows a write.

    A write is done when PostgreSQL has answered: the connection goes back to the pool in the
    background. asyncpg's own release is a task awaited through a shield, three more turns of the
    loop before the writer resumes, which under load was most of a stream's end lag."""

    batching = True

    def __init__(self, url: str) -> None:
        self.url = url
        self.pool: Any = None
        self._opening = asyncio.Lock()
        self._releasing: set[asyncio.Future[None]] = set()

    def marks(self, count: int) -> list[str]:
        return [f"${i}" for i in range(1, count + 1)]

    def notifying(self, update: str) -> str:
        """The update, also waking the followers of the record on every instance."""
        return f"WITH changed AS ({update} RETURNING id) SELECT pg_notify('{CHANNEL}', id::text) FROM changed"

    async def _pool(self) -> Any:
        async with self._opening:  # one pool, even when the first writes come together
            if self.pool is None:
                self.pool = await asyncpg.create_pool(
                    self.url, min_size=1, max_size=POOL_SIZE, reset=keep_session, timeout=CONNECT_TIMEOUT
                )
        return self.pool

    async def run(self, sql: str, rows: list[list[Any]]) -> None:
        pool = self.pool or await self._pool()
        connection = await pool.acquire()
        try:
            if len(rows) == 1:
                await connection.execute(sql, *rows[0])
            else:
                await connection.executemany(sql, rows)
        finally:
            releasing = asyncio.ensure_future(pool.release(connection))
            self._releasing.add(releasing)
            releasing.add_done_callback(self._released)

    def _released(self, releasing: asyncio.Future[None]) -> None:
        self._releasing.discard(releasing)
        if not releasing.cancelled() and releasing.exception() is not None:
            log.warning("returning a database connection to the pool failed: %s", releasing.exception())

    async def close(self) -> None:
        if self.pool is not None:
            if self._releasing:
                await asyncio.wait(self._releasing)
            await self.pool.close()
            self.pool = None
