"""OpenAI's conversations, on the gateway's own: a conversation is the records of one
`conversation_id`, whichever route made them, and the `conversations` table holds only what is its
own (owner, metadata, deletion). Items a client adds without a response are a record too
(`stream_format: "items"`, `complete`, no upstream), so history, search and export see them.
Owner-scoped as records are: another caller's conversation is unknown. Never imports Starlette.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases import Database

from gateway.db.stamps import utcnow
from gateway.db.tables import conversations, records
from gateway.history.turns import mine

ITEMS_FORMAT = "items"


@dataclass(frozen=True)
class Conversation:
    id: uuid.UUID
    created_at: dt.datetime
    metadata: dict[str, Any]


class Conversations:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def create(self, owner: uuid.UUID | None, metadata: dict[str, Any]) -> Conversation:
        made = Conversation(uuid.uuid4(), utcnow(), metadata)
        values = {"id": made.id, "api_key_id": owner, "created_at": made.created_at, "metadata": json.dumps(metadata)}
        await self.db.execute(conversations.insert().values(**values))
        return made

    async def get(self, conversation_id: uuid.UUID, owner: uuid.UUID | None) -> Conversation | None:
        """The conversation, by its row, or by its records when none was asked for yet; None when it
        is unknown, another caller's, or deleted."""
        query = conversations.select().where(conversations.c.id == conversation_id)
        row = await self.db.fetch_one(query)
        if row is not None:
            if row["deleted_at"] is not None or (owner is not None and row["api_key_id"] != owner):
                return None
            return Conversation(row["id"], row["created_at"], json.loads(row["metadata"] or "{}"))
        first = sa.select(sa.func.min(records.c.created_at)).where(
            records.c.conversation_id == conversation_id, *mine(owner)
        )
        started = await self.db.fetch_val(first)
        return Conversation(conversation_id, started, {}) if started is not None else None

    async def update(self, conversation: Conversation, owner: uuid.UUID | None, metadata: dict[str, Any]) -> None:
        """Its metadata replaced (a row made for a conversation that had only records)."""
        text = json.dumps(metadata)
        query = conversations.update().where(conversations.c.id == conversation.id).values(metadata=text)
        if await self.db.fetch_one(query.returning(conversations.c.id)) is None:
            values = {"id": conversation.id, "api_key_id": owner, "created_at": conversation.created_at}
            await self.db.execute(conversations.insert().values(**values, metadata=text))

    async def delete(self, conversation: Conversation, owner: uuid.UUID | None) -> None:
        now = utcnow()
        query = conversations.update().where(conversations.c.id == conversation.id).values(deleted_at=now)
        if await self.db.fetch_one(query.returning(conversations.c.id)) is None:
            values = {"id": conversation.id, "api_key_id": owner, "created_at": conversation.created_at}
            await self.db.execute(conversations.insert().values(**values, deleted_at=now))

    async def records(self, conversation_id: uuid.UUID, owner: uuid.UUID | None) -> list[dict[str, Any]]:
        """Its records, oldest first: what each was given and what it answered."""
        query = (
            sa.select(
                records.c.id, records.c.prompt, records.c.messages, records.c.response, records.c.tool_calls,
                records.c.thinking,
                records.c.stream_format, records.c.status, records.c.created_at,
            )
            .where(records.c.conversation_id == conversation_id, records.c.redacted_at.is_(None), *mine(owner))
            .order_by(records.c.created_at, records.c.id)
        )  # fmt: skip
        return [dict(row._mapping) for row in await self.db.fetch_all(query)]

    async def add(
        self, conversation_id: uuid.UUID, owner: uuid.UUID | None, messages: list[dict[str, Any]], prompt: str
    ) -> uuid.UUID:
        """Items added without a response: one record of them."""
        record_id, now = uuid.uuid4(), utcnow()
        values = {
            "id": record_id, "conversation_id": conversation_id, "prompt": prompt, "response": "",
            "status": "complete", "model": "", "stream_format": ITEMS_FORMAT, "created_at": now,
            "completed_at": now, "usage_estimated": False, "api_key_id": owner, "messages": json.dumps(messages),
        }  # fmt: skip
        await self.db.execute(records.insert().values(**values))
        return record_id

    async def remove(self, record_id: uuid.UUID) -> None:
        """A record of added items, once none of them is left."""
        await self.db.execute(records.delete().where(records.c.id == record_id))

    async def edit(self, record_id: uuid.UUID, **values: Any) -> None:
        """One record's items changed (an item deleted from it)."""
        await self.db.execute(records.update().where(records.c.id == record_id).values(**values))
