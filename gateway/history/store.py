"""Records of exchanges: a stream's writes (start, checkpoint, end), the API's reads, the crash sweep.

Reads go through `databases` (SQLAlchemy Core); a stream's writes through the dialect's writer
(db/database.py), as group commits on PostgreSQL. Never imports Starlette.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from databases import Database

from gateway.db.database import make_writer
from gateway.db.groupcommit import GroupCommit
from gateway.db.stamps import encode_cursor, iso, stamp, utcnow
from gateway.db.tables import END_COLUMNS, RECORD_FIELDS, START_COLUMNS, records
from gateway.history import turns
from gateway.history.turns import Chain, Turn, mine
from gateway.observability import tracing

# Batches of each of the two hot-path writes in flight at once (on connections of their own).
WRITE_SLOTS = 4
# Counting a million rows costs more than a page: totals are exact up to this, a bound beyond.
TOTAL_CAP = 10_000
START_DEFAULTS: dict[str, Any] = {"response": "", "status": "streaming", "usage_estimated": False}
SWEPT = "the gateway stopped before the answer finished"


def public(row: Any) -> dict[str, Any]:
    """A record as the API shows it."""
    out = {name: row[name] for name in RECORD_FIELDS}
    out["id"] = str(row["id"])
    out["conversation_id"] = str(row["conversation_id"])
    out["created_at"] = iso(row["created_at"])
    out["completed_at"] = iso(row["completed_at"])
    out["usage_estimated"] = bool(row["usage_estimated"])
    out["tool_calls"] = json.loads(row["tool_calls"]) if row["tool_calls"] else None
    out["thinking"] = json.loads(row["thinking"]) if row["thinking"] else None
    out["left_out"] = json.loads(row["left_out"]) if row["left_out"] else None
    out["params"] = json.loads(row["params"]) if row["params"] else None
    out["previous_response_id"] = str(row["previous_response_id"]) if row["previous_response_id"] else None
    out["redacted_at"] = iso(row["redacted_at"])
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
    cache_creation_tokens: int | None = None
    reasoning: str | None = None
    thinking: str | None = None  # JSON: the signed thinking blocks, for the next turn
    left_out: str | None = None  # JSON: what the upstream was not given

    def without_text(self) -> Ending:
        """The ending of a record that keeps no text: its usage and timings only."""
        return dataclasses.replace(self, response="", tool_calls=None, tool_text=None, reasoning=None, thinking=None)


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

    async def row(self, record_id: uuid.UUID, owner: uuid.UUID | None = None) -> dict[str, Any] | None:
        """Every column of a record, typed (what a response is rebuilt from)."""
        row = await self.db.fetch_one(records.select().where(records.c.id == record_id, *mine(owner)))
        return {column.name: row[column.name] for column in records.columns} if row is not None else None

    async def conversation(self, conversation_id: uuid.UUID, owner: uuid.UUID | None = None) -> list[Turn] | None:
        """Earlier turns, oldest first, or None when the conversation is unknown (or not owner's)."""
        return await turns.conversation(self.db, conversation_id, owner)

    async def chain(self, record_id: uuid.UUID, owner: uuid.UUID | None = None) -> Chain | None:
        """A response and those it continues, oldest first (history/turns.py)."""
        return await turns.chain(self.db, record_id, owner)

    async def close(self) -> None:
        await self.writer.close()
