"""Records of exchanges: create, finish, list, get, delete, sweep. Every dialect difference lives here.

The store speaks SQLAlchemy Core through `databases`; it never imports Starlette.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiosqlite
import asyncpg
import sqlalchemy as sa
from databases import Database

from gateway.fts import MARK_END, MARK_START, fts5_expression, safe_snippet
from gateway.tables import api_keys, records

log = logging.getLogger("gateway.store")

# The pool of PostgreSQL connections for the two writes on every stream's path (and the
# checkpoints): each of the two group commits has at most WRITE_SLOTS batches in flight.
WRITER_POOL_SIZE = 10
WRITE_SLOTS = 4


async def keep_session(connection: Any) -> None:
    """asyncpg's pool resets every connection it takes back with a query of four statements (an
    extra round trip after each write). Nothing here changes session state (the one `SET` is
    `SET LOCAL`), and asyncpg still rolls back a transaction left open, so there is nothing to reset."""


PUBLIC_FIELDS = (
    "id",
    "conversation_id",
    "prompt",
    "response",
    "status",
    "model",
    "stream_format",
    "error",
    "created_at",
    "completed_at",
    "ttft_ms",
    "duration_ms",
    "prompt_tokens",
    "completion_tokens",
    "usage_estimated",
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite keeps DateTime(timezone=True) without its offset; everything stored is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _iso(value: dt.datetime | None) -> str | None:
    aware = _aware(value)
    return aware.isoformat(timespec="microseconds").replace("+00:00", "Z") if aware else None


def public(row: Any) -> dict[str, Any]:
    """A record as the API shows it."""
    out = {name: row[name] for name in PUBLIC_FIELDS}
    out["id"] = str(row["id"])
    out["conversation_id"] = str(row["conversation_id"])
    out["created_at"] = _iso(row["created_at"])
    out["completed_at"] = _iso(row["completed_at"])
    out["usage_estimated"] = bool(row["usage_estimated"])
    if row["messages"]:  # /v1/chat/completions records keep the request's messages
        out["messages"] = json.loads(row["messages"])
    return out


CREATE_COLUMNS = (
    "id",
    "conversation_id",
    "prompt",
    "response",
    "status",
    "model",
    "stream_format",
    "system",
    "temperature",
    "max_tokens",
    "created_at",
    "heartbeat_at",
    "instance_id",
    "request_id",
    "usage_estimated",
    "api_key_id",
    "messages",
)
CREATE_DEFAULTS: dict[str, Any] = {"response": "", "status": "streaming", "usage_estimated": False}
FINISH_COLUMNS = (
    "status",
    "response",
    "error",
    "completed_at",
    "ttft_ms",
    "duration_ms",
    "prompt_tokens",
    "completion_tokens",
    "usage_estimated",
)
FINISH_DEFAULTS: dict[str, Any] = {"response": "", "usage_estimated": False}


def _placeholders(kind: str, count: int, start: int = 1) -> list[str]:
    return ["?"] * count if kind == "sqlite" else [f"${i}" for i in range(start, start + count)]


def _insert_sql(kind: str) -> str:
    marks = ", ".join(_placeholders(kind, len(CREATE_COLUMNS)))
    return f"INSERT INTO records ({', '.join(CREATE_COLUMNS)}) VALUES ({marks})"


PROGRESS_CHANNEL = "gateway_progress"


def _notifying(kind: str, update: str) -> str:
    """On PostgreSQL, the update also wakes the followers of the record (LISTEN/NOTIFY)."""
    if kind == "sqlite":
        return update
    return f"WITH changed AS ({update} RETURNING id) SELECT pg_notify('{PROGRESS_CHANNEL}', id::text) FROM changed"


def _finish_sql(kind: str) -> str:
    marks = _placeholders(kind, len(FINISH_COLUMNS) + 1)
    sets = ", ".join(f"{name} = {mark}" for name, mark in zip(FINISH_COLUMNS, marks, strict=False))
    return _notifying(kind, f"UPDATE records SET {sets}, instance_id = NULL WHERE id = {marks[-1]}")


def _sqlite_value(value: Any) -> Any:
    """A value as SQLAlchemy stores it in SQLite (read back through SQLAlchemy)."""
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


def _mine(owner: uuid.UUID | None) -> list[sa.ColumnElement[bool]]:
    """Only the owner's records; None (the operator, or an open gateway) sees them all."""
    return [] if owner is None else [records.c.api_key_id == owner]


Run = Callable[[str, list[list[Any]]], Awaitable[None]]


class GroupCommit:
    """Group commit for one statement: the writes that come while one is in flight go together,
    as one pipelined `executemany` (one round trip and one commit for them all).

    A write that finds none in flight goes at once, in its own task, as a lone write did before;
    under a burst the batches grow with the load, which is when the round trips and commits saved
    matter. When more than one batch (MAX_BATCH rows) is waiting, up to `slots` batches are
    written at once, on connections of their own: one at a time, 1,000 streams ending together
    waited ~200 ms for five batches of 200 in a row. A batch that fails is retried row by row, so
    one bad row fails alone. On SQLite (`batching=False`) every write goes on its own: its one
    writer connection is shared, so a batch could not be made atomic without taking others'
    writes into it.
    """

    MAX_BATCH = 200

    def __init__(self, sql: str, run: Run, batching: bool = True, slots: int = 1) -> None:
        self.sql = sql
        self.run = run
        self.batching = batching
        self.slots = slots
        self.in_flight = 0
        self.pending: list[tuple[list[Any], asyncio.Future[None]]] = []
        self.drainers: set[asyncio.Future[None]] = set()
        self.batches = 0  # batches of more than one row, for tests and curiosity

    @property
    def busy(self) -> bool:
        return self.in_flight > 0

    async def write(self, args: list[Any]) -> None:
        """The write, awaited in the caller's task (a lone write runs in it)."""
        if not self.batching:
            await self.run(self.sql, [args])
            return
        if self.in_flight:
            await self._join(args)
            return
        self.in_flight += 1
        await self._alone(args)

    def submit(self, args: list[Any]) -> asyncio.Future[None]:
        """The write started at once, as a future to await later. One that joins a batch is a
        plain future, set when its batch is written: in a burst, no task for each write, and
        its caller resumes straight from the batch (through a task, a step of the loop later)."""
        if not self.batching:
            return asyncio.ensure_future(self.run(self.sql, [args]))
        if self.in_flight:
            return self._join(args)
        self.in_flight += 1  # now, so the writes that come before its task runs join a batch
        return asyncio.ensure_future(self._alone(args))

    def _join(self, args: list[Any]) -> asyncio.Future[None]:
        joined: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((args, joined))
        self._drain()  # goes at once only if a whole batch now waits
        return joined

    async def _alone(self, args: list[Any]) -> None:
        try:
            await self.run(self.sql, [args])
        finally:
            self.in_flight -= 1
            self._drain()

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

    async def _write_batch(self, batch: list[tuple[list[Any], asyncio.Future[None]]]) -> None:
        try:
            try:
                await self.run(self.sql, [args for args, _ in batch])
                if len(batch) > 1:
                    self.batches += 1
            except Exception:
                for args, waiter in batch:  # each on its own: a bad row fails alone
                    try:
                        await self.run(self.sql, [args])
                    except Exception as exc:
                        if not waiter.done():
                            waiter.set_exception(exc)
                        continue
                    if not waiter.done():
                        waiter.set_result(None)
                return
            for _, waiter in batch:
                if not waiter.done():
                    waiter.set_result(None)
        finally:
            self.in_flight -= 1
            self._drain()


@dataclass(frozen=True)
class StoredKey:
    id: uuid.UUID
    name: str
    key_hash: str
    rate_limit: tuple[int, int] | None
    created_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None


class KeyExists(ValueError):
    pass


def _stored_key(row: Any) -> StoredKey:
    requests, window = row["rate_limit_requests"], row["rate_limit_window_seconds"]
    return StoredKey(
        id=row["id"] if isinstance(row["id"], uuid.UUID) else uuid.UUID(str(row["id"])),
        name=row["name"],
        key_hash=row["key_hash"],
        rate_limit=(requests, window) if requests and window else None,
        created_at=_aware(row["created_at"]),
        revoked_at=_aware(row["revoked_at"]),
    )


class BadCursor(ValueError):
    pass


def encode_cursor(created_at: dt.datetime, record_id: uuid.UUID | str) -> str:
    raw = f"{_iso(created_at)}|{record_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, rid = raw.partition("|")
        created = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        if created.tzinfo is None:
            raise ValueError("naive timestamp")
        return created, uuid.UUID(rid)
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise BadCursor(str(exc)) from None


SEARCH_CANDIDATES = 5000
TOTAL_CAP = 10_000


@dataclass(frozen=True)
class SearchPage:
    items: list[dict[str, Any]]
    total: int
    total_is_lower_bound: bool


def _typed(row: Any, kind: str) -> dict[str, Any]:
    """A row of a raw SQL query as the typed values `public()` expects."""
    values = dict(row._mapping)
    if kind == "sqlite":
        for name in ("id", "conversation_id"):
            values[name] = uuid.UUID(values[name])
        for name in ("created_at", "completed_at"):
            if isinstance(values[name], str):
                values[name] = dt.datetime.fromisoformat(values[name])
    return values


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total: int
    next: str | None
    total_is_lower_bound: bool = False


class Store:
    def __init__(self, database: Database, kind: str) -> None:
        self.db = database
        self.kind = kind
        self._sqlite_writer: aiosqlite.Connection | None = None
        self._writer_pool: Any = None
        self._writer_lock = asyncio.Lock()
        self._releasing: set[asyncio.Future[None]] = set()
        self._insert_sql = _insert_sql(kind)
        self._finish_sql = _finish_sql(kind)
        marks = _placeholders(kind, 3)
        self._checkpoint_sql = _notifying(
            kind,
            f"UPDATE records SET response = {marks[0]}, heartbeat_at = {marks[1]} "
            f"WHERE id = {marks[2]} AND status = 'streaming'",
        )
        self._languages: frozenset[str] | None = None
        postgresql = kind == "postgresql"
        self._inserts = GroupCommit(self._insert_sql, self._run, batching=postgresql, slots=WRITE_SLOTS)
        self._finishes = GroupCommit(self._finish_sql, self._run, batching=postgresql, slots=WRITE_SLOTS)

    def _stamp(self, value: dt.datetime) -> dt.datetime:
        # SQLite compares the stored text: hand it naive UTC, as it stores it.
        return value.replace(tzinfo=None) if self.kind == "sqlite" else value

    async def ping(self) -> None:
        await self.db.fetch_val("SELECT 1")

    def create(self, **values: Any) -> asyncio.Future[None]:
        """Insert a record: the stream's first write, on its hot path, started at once; await the
        future it returns (GroupCommit.submit)."""
        return self._inserts.submit([values.get(name, CREATE_DEFAULTS.get(name)) for name in CREATE_COLUMNS])

    async def finish(self, record_id: uuid.UUID, **values: Any) -> None:
        """Write a record's end (the columns not given are cleared): the stream's last write."""
        args = [values.get(name, FINISH_DEFAULTS.get(name)) for name in FINISH_COLUMNS]
        await self._finishes.write([*args, record_id])

    async def checkpoint(self, record_id: uuid.UUID, response: str) -> None:
        """The text so far of a live stream, for followers on other instances."""
        await self._run(self._checkpoint_sql, [[response, utcnow(), record_id]])

    async def progress(self, record_id: uuid.UUID, owner: uuid.UUID | None = None) -> dict[str, Any] | None:
        """What a follower needs of a record: its status, text so far and ending."""
        query = sa.select(
            records.c.status,
            records.c.response,
            records.c.error,
            records.c.model,
            records.c.max_tokens,
            records.c.prompt_tokens,
            records.c.completion_tokens,
        ).where(records.c.id == record_id, *_mine(owner))
        row = await self.db.fetch_one(query)
        return dict(row._mapping) if row is not None else None

    async def close(self) -> None:
        if self._sqlite_writer is not None:
            await self._sqlite_writer.close()
            self._sqlite_writer = None
        if self._writer_pool is not None:
            if self._releasing:
                await asyncio.wait(self._releasing)
            await self._writer_pool.close()
            self._writer_pool = None

    async def _pool(self) -> Any:
        async with self._writer_lock:  # one pool, even when the first writes come together
            if self._writer_pool is None:
                self._writer_pool = await asyncpg.create_pool(
                    str(self.db.url), min_size=1, max_size=WRITER_POOL_SIZE, reset=keep_session, timeout=10
                )
        return self._writer_pool

    async def _run(self, sql: str, rows: list[list[Any]]) -> None:
        # The two writes of every stream skip SQLAlchemy's per-call compilation (most of a short
        # request's CPU): fixed SQL run by the driver, one row or a group commit's batch. SQLite
        # gets one long-lived writer connection instead of a new thread per request; PostgreSQL a
        # pool of its own, straight from asyncpg, which prepares each statement once per
        # connection (`databases`' wrapper around each connection cost a third of the write).
        if self.kind == "sqlite":
            writer = self._sqlite_writer
            if writer is None:
                writer = self._sqlite_writer = await aiosqlite.connect(
                    self.db.url.database, isolation_level=None, timeout=30
                )
            for args in rows:  # one row at a time on SQLite (see GroupCommit)
                await writer.execute(sql, [_sqlite_value(value) for value in args])
        else:
            pool = self._writer_pool or await self._pool()
            # The write is done when PostgreSQL has answered: the connection goes back to the pool
            # in the background. asyncpg's release is a task awaited through a shield, three more
            # turns of the loop before the writer resumes; at the end of 1,000 streams (turns of
            # 20-30 ms) that was most of the time between the last token and the body's end.
            connection = await pool.acquire()
            try:
                if len(rows) == 1:
                    await connection.execute(sql, *rows[0])
                else:  # pipelined: one round trip, one transaction
                    await connection.executemany(sql, rows)
            finally:
                releasing = asyncio.ensure_future(pool.release(connection))
                self._releasing.add(releasing)
                releasing.add_done_callback(self._released)

    def _released(self, releasing: asyncio.Future[None]) -> None:
        self._releasing.discard(releasing)
        if not releasing.cancelled() and releasing.exception() is not None:
            log.warning("returning a database connection to the pool failed: %s", releasing.exception())

    async def get(self, record_id: uuid.UUID, owner: uuid.UUID | None = None) -> dict[str, Any] | None:
        row = await self.db.fetch_one(records.select().where(records.c.id == record_id, *_mine(owner)))
        return public(row) if row is not None else None

    async def delete(self, record_id: uuid.UUID, owner: uuid.UUID | None = None) -> bool:
        query = records.delete().where(records.c.id == record_id, *_mine(owner)).returning(records.c.id)
        return await self.db.fetch_one(query) is not None

    async def page(
        self,
        limit: int,
        offset: int = 0,
        conversation_id: uuid.UUID | None = None,
        before: tuple[dt.datetime, uuid.UUID] | None = None,
        owner: uuid.UUID | None = None,
    ) -> Page:
        where: list[sa.ColumnElement[bool]] = _mine(owner)
        if conversation_id is not None:
            where.append(records.c.conversation_id == conversation_id)
        # Counting a million rows costs more than the page: exact up to TOTAL_CAP, a bound beyond.
        capped = sa.select(records.c.id).where(*where).limit(TOTAL_CAP + 1).subquery()
        total = int(await self.db.fetch_val(sa.select(sa.func.count()).select_from(capped)) or 0)
        if before is not None:
            created, rid = before
            # A row-value comparison: one range of the (created_at, id) index, on both databases.
            where.append(sa.tuple_(records.c.created_at, records.c.id) < sa.tuple_(self._stamp(created), rid))
        query = (
            records.select()
            .where(*where)
            .order_by(records.c.created_at.desc(), records.c.id.desc())
            .limit(limit + 1)
            .offset(offset)
        )
        rows = await self.db.fetch_all(query)
        items = [public(row) for row in rows[:limit]]
        last = rows[limit - 1] if len(rows) > limit else None
        cursor = encode_cursor(last["created_at"], last["id"]) if last is not None else None
        return Page(items=items, total=min(total, TOTAL_CAP), next=cursor, total_is_lower_bound=total > TOTAL_CAP)

    async def conversation(
        self, conversation_id: uuid.UUID, owner: uuid.UUID | None = None
    ) -> list[tuple[str, str]] | None:
        """Earlier turns, oldest first, or None when the conversation is unknown (or not owner's)."""
        query = (
            sa.select(records.c.prompt, records.c.response, records.c.status)
            .where(records.c.conversation_id == conversation_id, *_mine(owner))
            .order_by(records.c.created_at, records.c.id)
        )
        rows = await self.db.fetch_all(query)
        if not rows:
            return None
        return [(row["prompt"], row["response"]) for row in rows if row["status"] != "streaming"]

    async def create_key(self, name: str, key_hash: str, rate_limit: tuple[int, int] | None = None) -> StoredKey:
        existing = await self.db.fetch_one(sa.select(api_keys.c.id).where(api_keys.c.name == name))
        if existing is not None:
            raise KeyExists(f"a key named {name!r} exists already")
        key = StoredKey(uuid.uuid4(), name, key_hash, rate_limit, created_at=utcnow())
        await self.db.execute(
            api_keys.insert().values(
                id=key.id,
                name=name,
                key_hash=key_hash,
                rate_limit_requests=rate_limit[0] if rate_limit else None,
                rate_limit_window_seconds=rate_limit[1] if rate_limit else None,
                created_at=key.created_at,
            )
        )
        return key

    async def list_keys(self) -> list[StoredKey]:
        rows = await self.db.fetch_all(api_keys.select().order_by(api_keys.c.created_at, api_keys.c.name))
        return [_stored_key(row) for row in rows]

    async def revoke_key(self, name: str) -> bool:
        query = (
            api_keys.update()
            .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .returning(api_keys.c.id)
        )
        return await self.db.fetch_one(query) is not None

    async def find_key(self, key_hash: str) -> StoredKey | None:
        row = await self.db.fetch_one(
            api_keys.select().where(api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None))
        )
        return _stored_key(row) if row is not None else None

    async def any_keys(self) -> bool:
        """Whether any key was ever created: revoking the last one must not open the gateway."""
        row = await self.db.fetch_one(sa.select(api_keys.c.id).limit(1))
        return row is not None

    async def search_languages(self) -> frozenset[str]:
        """The text-search configurations this database has."""
        if self.kind == "sqlite":
            return frozenset(("english", "simple"))
        if self._languages is None:
            rows = await self.db.fetch_all("SELECT cfgname FROM pg_ts_config")
            self._languages = frozenset(row["cfgname"] for row in rows)
        return self._languages

    async def search(
        self, query: str, lang: str, limit: int, offset: int, owner: uuid.UUID | None = None
    ) -> SearchPage:
        """Ranked matches. At most SEARCH_CANDIDATES matches are ranked: all of them for a term
        rarer than that; for a frequent term, the newest SEARCH_CANDIDATES (its best hits among
        the newest), so that common words cannot make search slow. `total` is exact up to
        TOTAL_CAP, and a lower bound beyond."""
        if self.kind == "sqlite":
            return await self._search_sqlite(query, lang, limit, offset, owner)
        async with self.db.transaction():
            # A prepared statement's generic plan cannot see the word: it guesses ~5,000 matches
            # for any of them and reads the whole GIN posting list of a word in a third of the
            # rows (1.2 s at a million records). Planning each search with its values keeps the
            # plans above (15-20 ms for that word).
            await self.db.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            return await self._search_postgres(query, lang, limit, offset, owner)

    async def _search_postgres(
        self, query: str, lang: str, limit: int, offset: int, owner: uuid.UUID | None
    ) -> SearchPage:
        values: dict[str, Any] = {"q": query, "lang": lang}
        if lang == "english":
            vector = "r.search_vector"  # the stored, GIN-indexed column
        else:
            vector = (
                "(setweight(to_tsvector(CAST(:lang AS regconfig), r.prompt), 'A') || "
                "setweight(to_tsvector(CAST(:lang AS regconfig), r.response), 'B'))"
            )
        tsquery = "websearch_to_tsquery(CAST(:lang AS regconfig), :q)"
        if not await self.db.fetch_val(f"SELECT numnode({tsquery}) > 0", values):
            return SearchPage([], 0, False)  # nothing but stop-words
        mine = ""
        if owner is not None:
            mine = " AND r.api_key_id = :owner"
            values["owner"] = owner
        matches = f"FROM records r WHERE {vector} @@ {tsquery}{mine}"
        counted = await self.db.fetch_val(
            f"SELECT count(*) FROM (SELECT 1 {matches} LIMIT {TOTAL_CAP + 1}) AS capped", values
        )
        total = int(counted or 0)
        if total == 0:
            return SearchPage([], 0, False)
        if total > SEARCH_CANDIDATES:
            # Frequent: walk the newest matches through the (created_at, id) index.
            candidates = f"SELECT r.* {matches} ORDER BY r.created_at DESC, r.id DESC LIMIT {SEARCH_CANDIDATES}"
        else:
            # Rare: no ORDER BY/LIMIT here, so the planner cannot prefer walking the btree.
            candidates = f"SELECT r.* {matches}"
        ranked = (
            f"SELECT c.*, ts_rank_cd({vector.replace('r.', 'c.')}, {tsquery}) AS rank "
            f"FROM ({candidates}) AS c ORDER BY rank DESC, c.created_at DESC, c.id DESC "
            f"LIMIT :limit OFFSET :offset"
        )
        values.update(limit=limit, offset=offset)
        headline_options = f"StartSel={MARK_START}, StopSel={MARK_END}, MaxFragments=2, MinWords=5, MaxWords=18"
        page = (
            f"SELECT p.*, ts_headline(CAST(:lang AS regconfig), p.prompt || ' — ' || p.response, {tsquery}, "
            f"'{headline_options}') AS snippet FROM ({ranked}) AS p ORDER BY p.rank DESC, p.created_at DESC, p.id DESC"
        )
        rows = await self.db.fetch_all(page, values)
        return SearchPage(
            [self._hit(row, float(row["rank"])) for row in rows], min(total, TOTAL_CAP), total > TOTAL_CAP
        )

    async def _search_sqlite(
        self, query: str, lang: str, limit: int, offset: int, owner: uuid.UUID | None
    ) -> SearchPage:
        expression = fts5_expression(query, lang)
        if expression is None:
            return SearchPage([], 0, False)
        table = f"records_fts_{lang}"
        values: dict[str, Any] = {"q": expression}
        mine = ""
        if owner is not None:
            mine = " AND r.api_key_id = :owner"
            values["owner"] = owner.hex
        joined = f"FROM {table} JOIN records r ON r.rowid = {table}.rowid WHERE {table} MATCH :q{mine}"
        counted = await self.db.fetch_val(f"SELECT count(*) FROM (SELECT 1 {joined} LIMIT {TOTAL_CAP + 1})", values)
        total = int(counted or 0)
        if total == 0:
            return SearchPage([], 0, False)
        bound = ""
        if total > SEARCH_CANDIDATES:
            # Frequent: only the newest matches (rowids grow with time) are ranked.
            bound = (
                f" AND {table}.rowid >= (SELECT min(rowid) FROM (SELECT {table}.rowid AS rowid {joined} "
                f"ORDER BY {table}.rowid DESC LIMIT {SEARCH_CANDIDATES}))"
            )
        values.update(limit=limit, offset=offset)
        rows = await self.db.fetch_all(
            f"SELECT r.*, -bm25({table}, 2.0, 1.0) AS rank, "
            f"snippet({table}, -1, char(2), char(3), '…', 16) AS snippet "
            f"{joined}{bound} ORDER BY rank DESC, r.created_at DESC, r.id DESC LIMIT :limit OFFSET :offset",
            values,
        )
        return SearchPage(
            [self._hit(row, float(row["rank"])) for row in rows], min(total, TOTAL_CAP), total > TOTAL_CAP
        )

    def _hit(self, row: Any, rank: float) -> dict[str, Any]:
        item = public(_typed(row, self.kind))
        item["rank"] = round(rank, 6)
        item["snippet"] = safe_snippet(row["snippet"] or "")
        return item

    async def heartbeat(self, instance_id: str) -> None:
        await self.db.execute(
            records.update()
            .where(records.c.id.in_(_live(records.c.instance_id == instance_id)))
            .values(heartbeat_at=utcnow())
        )

    async def sweep(self, stale_after: dt.timedelta, instance_id: str | None = None) -> int:
        """Mark `interrupted` the streams that showed no sign of life for `stale_after`
        (or, with `instance_id`, every stream this process still owns: it is going away)."""
        now = utcnow()
        condition = (
            records.c.instance_id == instance_id
            if instance_id is not None
            else records.c.heartbeat_at < self._stamp(now - stale_after)
        )
        query = (
            records.update()
            .where(records.c.id.in_(_live(condition)))
            .values(
                status="interrupted",
                error="the gateway stopped before the answer finished",
                completed_at=now,
                instance_id=None,
            )
            .returning(records.c.id)
        )
        return len(await self.db.fetch_all(query))


def _live(condition: sa.ColumnElement[bool]) -> sa.ScalarSelect[Any]:
    """The live records that match, locked, passing over those whose end is being written: the
    statements that touch many live records at once (heartbeat, sweep) never wait for a row.
    A group commit's batch of final writes holds its rows and takes the next; an UPDATE of them
    all that waited for one row while holding another deadlocked with it (PostgreSQL ended one
    after `deadlock_timeout`, a second, stalling 200 streams' ends: seen under load). A record
    whose end is being written needs no heartbeat and is not abandoned. (SQLite, one writer,
    ignores FOR UPDATE.)"""
    live = sa.select(records.c.id).where(records.c.status == "streaming", condition)
    return live.with_for_update(skip_locked=True).scalar_subquery()


class Progress:
    """Wakes the followers of a record when another instance checkpoints or finishes it.

    On PostgreSQL one connection per process LISTENs on PROGRESS_CHANNEL (the store's checkpoint
    and finish statements NOTIFY it). Without it — SQLite, or while that connection is being
    re-made after the server went away — `wait()` simply times out and the follower polls.
    """

    RECONNECT_SECONDS = 5.0

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
            await self.connection.add_listener(PROGRESS_CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            self.connection = None
            log.warning("cannot LISTEN for stream progress (followers will poll): %s", exc)

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
        if (
            not self.listening
            and self.kind == "postgresql"
            and time.monotonic() - self._tried_at > self.RECONNECT_SECONDS
        ):
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
