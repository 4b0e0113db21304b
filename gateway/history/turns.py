"""The earlier turns of a conversation, or of a response's chain (`previous_response_id`), read
from the records as a continuation replays them: what each turn was asked, what it answered, its
tool calls and its signed thinking blocks (which some upstreams want back)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from databases import Database

from gateway.db.tables import records

MAX_CHAIN = 1000  # responses a previous_response_id reaches back through
COLUMNS = (records.c.prompt, records.c.response, records.c.status, records.c.messages, records.c.tool_calls,
           records.c.thinking)  # fmt: skip


@dataclass(frozen=True)
class Turn:
    """An earlier exchange of a conversation, as a continuation replays it."""

    prompt: str
    response: str
    messages: list[dict[str, Any]] | None = None  # a /v1 exchange's messages
    tool_calls: list[dict[str, Any]] | None = None
    thinking: list[dict[str, Any]] | None = None  # its answer's signed thinking blocks


@dataclass(frozen=True)
class Chain:
    """A response's conversation: its id, the turns oldest first, and the newest one's status."""

    conversation_id: uuid.UUID
    turns: list[Turn]
    status: str


def mine(owner: uuid.UUID | None) -> list[sa.ColumnElement[bool]]:
    """Only the owner's records; None (the operator, or an open gateway) sees them all."""
    return [] if owner is None else [records.c.api_key_id == owner]


def turn(row: Any) -> Turn:
    return Turn(
        row["prompt"],
        row["response"],
        json.loads(row["messages"]) if row["messages"] else None,
        json.loads(row["tool_calls"]) if row["tool_calls"] else None,
        json.loads(row["thinking"]) if row["thinking"] else None,
    )


async def conversation(db: Database, conversation_id: uuid.UUID, owner: uuid.UUID | None = None) -> list[Turn] | None:
    """Earlier turns, oldest first, or None when the conversation is unknown (or not owner's)."""
    query = (
        sa.select(*COLUMNS)
        .where(records.c.conversation_id == conversation_id, *mine(owner))
        .order_by(records.c.created_at, records.c.id)
    )
    rows = await db.fetch_all(query)
    if not rows:
        return None
    return [turn(row) for row in rows if row["status"] != "streaming"]


async def chain(db: Database, record_id: uuid.UUID, owner: uuid.UUID | None = None) -> Chain | None:
    """A response and those it continues (by `previous_response_id`), oldest first; None when
    it is unknown, another owner's, not a response, or its text was removed. An earlier
    response whose text was removed ends the chain there."""
    start = sa.select(records.c.id, records.c.previous_response_id, sa.literal_column("0").label("depth")).where(
        records.c.id == record_id, records.c.stream_format == "responses", *mine(owner)
    )
    walk = start.cte("chain", recursive=True)
    earlier = records.alias("earlier")
    walk = walk.union_all(
        sa.select(earlier.c.id, earlier.c.previous_response_id, walk.c.depth + sa.literal_column("1")).where(
            earlier.c.id == walk.c.previous_response_id, walk.c.depth < MAX_CHAIN
        )
    )
    query = (
        sa.select(*COLUMNS, records.c.conversation_id, records.c.redacted_at)
        .join(walk, walk.c.id == records.c.id)
        .order_by(walk.c.depth)
    )
    rows = await db.fetch_all(query)
    if not rows or rows[0]["redacted_at"] is not None:
        return None
    turns: list[Turn] = []
    for row in rows:  # newest first
        if row["redacted_at"] is not None:
            break
        turns.append(turn(row))
    return Chain(rows[0]["conversation_id"], turns[::-1], rows[0]["status"])
