"""Records of exchanges: a stream's writes (start, checkpoint, end), the API's reads, the crash sweep.

Reads go through `databases` (SQLAlchemy Core); a stream's writes through the dialect's writer
(database.py), as group commits on PostgreSQL. Never imports Starlette.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from databases import Database

from gateway import tracing
from gateway.database import make_writer
from gateway.groupcommit import GroupCommit
from gateway.tables import END_COLUMNS, RECORD_FIELDS, START_COLUMNS, records

# Batches of each of the two hot-path writes in flight at once (on connections of their own).
WRITE_SLOTS = 4
# Counting a million rows costs more than a page: totals are exact up to this, a bound beyond.
TOTAL_CAP = 10_000
START_DEFAULTS: dict[str, Any] = {"response": "", "status": "streaming", "usage_estimated": False}
SWEPT = "the gateway stopped before the answer finished"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite keeps DateTime(timezone=True) without its offset; everything stored is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def iso(value: dt.datetime | None) -> str | None:
    stamp = aware(value)
    return stamp.isoformat(timespec="microseconds").replace("+00:00", "Z") if stamp else None


def stamp(kind: str, value: dt.datetime) -> dt.datetime:
    """A time to compare with a stored one: SQLite compares the stored text, so it gets naive UTC,
    as it stores it."""
    return value.replace(tzinfo=None) if kind == "sqlite" else value


def public(row: Any) -> dict[str, Any]:
    """A record as the API shows it."""
    out = {name: row[name] for name in RECORD_FIELDS}
    out["id"] = str(row["id"])
    out["conversation_id"] = str(row["conversation_id"])
    out["created_at"] = iso(row["created_at"])
    out["completed_at"] = iso(row["completed_at"])
    out["usage_estimated"] = bool(row["usage_estimated"])
    out["tool_calls"] = json.loads(row["tool_calls"]) if row["tool_calls"] else None
    for name in ("messages", "tools"):  # /v1/chat/completions records keep the request's
        if row[name]:
            out[name] = json.loads(row[name])
    return out


@dataclass(frozen=True)
class Ending:
    """A record's last write: how it ended, and everything measured until then (END_COLUMNS)."""

    status: str
    response: str = ""
    error: str | None = None
    completed_at: dt.datetime = field(default_factory=utcnow)
    ttft_ms: float | None = None
    duration_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage_estimated: bool = False
    tool_calls: str | None = None  # JSON
    finish_reason: str | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    upstream: str | None = None
    upstream_model: str | None = None
    attempts: int | None = None
    tool_text: str | None = None


class BadCursor(ValueError):
    pass


def encode_cursor(created_at: dt.datetime, record_id: uuid.UUID | str) -> str:
    raw = f"{iso(created_at)}|{record_id}".encode()
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


@dataclass(frozen=True)
class Turn:
    """An earlier exchange of a conversation, as a continuation replays it."""

    prompt: str
    response: str
    messages: list[dict[str, Any]] | None = None  # a /v1 exchange's messages
    tool_calls: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total: int
    next: str | None
    total_is_lower_bound: bool = False


def mine(owner: uuid.UUID | None) -> list[sa.ColumnElement[bool]]:
    """Only the owner's records; None (the operator, or an open gateway) sees them all."""
    return [] if owner is None else [records.c.api_key_id == owner]


class Store:
    def __init__(self, database: Database, kind: str) -> None:
        self.db = database
        self.kind = kind
        self.writer = make_writer(database, kind)
        marks = self.writer.marks(len(START_COLUMNS))
        insert = f"INSERT INTO records ({', '.join(START_COLUMNS)}) VALUES ({', '.join(marks)})"
        marks = self.writer.marks(len(END_COLUMNS) + 1)
        sets = ", ".join(f"{name} = {mark}" for name, mark in zip(END_COLUMNS, marks, strict=False))
        finish = self.writer.notifying(f"UPDATE records SET {sets}, instance_id = NULL WHERE id = {marks[-1]}")
        marks = self.writer.marks(3)
        self._checkpoint_sql = self.writer.notifying(
            f"UPDATE records SET response = {marks[0]}, heartbeat_at = {marks[1]} "
            f"WHERE id = {marks[2]} AND status = 'streaming'"
        )
        batching = self.writer.batching
        self._inserts = GroupCommit(insert, self.writer.run, batching, WRITE_SLOTS, ("INSERT", "records", kind))
        self._finishes = GroupCommit(finish, self.writer.run, batching, WRITE_SLOTS, ("UPDATE", "records", kind))

    def stamp(self, value: dt.datetime) -> dt.datetime:
        return stamp(self.kind, value)

    async def ping(self) -> None:
        await self.db.fetch_val("SELECT 1")

    def create(self, **values: Any) -> asyncio.Future[None]:
        """Insert a record: the stream's first write, started at once; await the future it returns."""
        if tracing.tracer is not None:
            values.setdefault("trace_id", tracing.trace_id())
        return self._inserts.submit([values.get(name, START_DEFAULTS.get(name)) for name in START_COLUMNS])

    async def finish(self, record_id: uuid.UUID, ending: Ending) -> None:
        """Write a record's end: the stream's last write."""
        await self._finishes.write([*(getattr(ending, name) for name in END_COLUMNS), record_id])

    async def checkpoint(self, record_id: uuid.UUID, response: str) -> None:
        """The text so far of a live stream, for followers on other instances."""
        await self.writer.run(self._checkpoint_sql, [[response, utcnow(), record_id]])

    async def snapshot(self, record_id: uuid.UUID, owner: uuid.UUID | None = None) -> dict[str, Any] | None:
        """What a follower needs of a record: its status, text so far and ending."""
        query = sa.select(
            records.c.status,
            records.c.response,
            records.c.error,
            records.c.model,
            records.c.max_tokens,
            records.c.prompt_tokens,
            records.c.completion_tokens,
        ).where(records.c.id == record_id, *mine(owner))
        row = await self.db.fetch_one(query)
        return dict(row._mapping) if row is not None else None

    async def get(self, record_id: uuid.UUID, owner: uuid.UUID | None = None) -> dict[str, Any] | None:
        row = await self.db.fetch_one(records.select().where(records.c.id == record_id, *mine(owner)))
        return public(row) if row is not None else None

    async def delete(self, record_id: uuid.UUID, owner: uuid.UUID | None = None) -> bool:
        query = records.delete().where(records.c.id == record_id, *mine(owner)).returning(records.c.id)
        return await self.db.fetch_one(query) is not None

    async def page(
        self,
        limit: int,
        offset: int = 0,
        conversation_id: uuid.UUID | None = None,
        before: tuple[dt.datetime, uuid.UUID] | None = None,
        owner: uuid.UUID | None = None,
    ) -> Page:
        where: list[sa.ColumnElement[bool]] = mine(owner)
        if conversation_id is not None:
            where.append(records.c.conversation_id == conversation_id)
        capped = sa.select(records.c.id).where(*where).limit(TOTAL_CAP + 1).subquery()
        total = int(await self.db.fetch_val(sa.select(sa.func.count()).select_from(capped)) or 0)
        if before is not None:
            created, rid = before
            # A row-value comparison: one range of the (created_at, id) index, on both databases.
            where.append(sa.tuple_(records.c.created_at, records.c.id) < sa.tuple_(self.stamp(created), rid))
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

    async def conversation(self, conversation_id: uuid.UUID, owner: uuid.UUID | None = None) -> list[Turn] | None:
        """Earlier turns, oldest first, or None when the conversation is unknown (or not owner's)."""
        query = (
            sa.select(records.c.prompt, records.c.response, records.c.status, records.c.messages, records.c.tool_calls)
            .where(records.c.conversation_id == conversation_id, *mine(owner))
            .order_by(records.c.created_at, records.c.id)
        )
        rows = await self.db.fetch_all(query)
        if not rows:
            return None
        return [
            Turn(
                row["prompt"],
                row["response"],
                json.loads(row["messages"]) if row["messages"] else None,
                json.loads(row["tool_calls"]) if row["tool_calls"] else None,
            )
            for row in rows
            if row["status"] != "streaming"
        ]

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
            else records.c.heartbeat_at < self.stamp(now - stale_after)
        )
        query = (
            records.update()
            .where(records.c.id.in_(_live(condition)))
            .values(status="interrupted", error=SWEPT, completed_at=now, instance_id=None)
            .returning(records.c.id)
        )
        return len(await self.db.fetch_all(query))

    async def close(self) -> None:
        await self.writer.close()


def _live(condition: sa.ColumnElement[bool]) -> sa.ScalarSelect[Any]:
    """The live records that match, locked, passing over those whose end is being written, so the
    statements that touch many live records at once (heartbeat, sweep) never wait for a row: a
    group commit's batch of final writes holds its rows and takes the next, and an UPDATE of them
    all that waited for one row while holding another would deadlock with it. A record whose end
    is being written needs no heartbeat and is not abandoned. (SQLite, one writer, ignores it.)"""
    live = sa.select(records.c.id).where(records.c.status == "streaming", condition)
    return live.with_for_update(skip_locked=True).scalar_subquery()
