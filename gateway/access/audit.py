"""The audit log: who created or revoked a key, deleted a record, or was refused an admin call.

Each event is one row of `audit_events`: who (a key's name, `operator`, `jwt:<subject>`, `cli`,
`anonymous`), their role, the action, its target (a key's name, a record's id, a path), the
outcome, the request id and the client's address, and when. Never a key nor a token. The gateway
only ever inserts into it; `page()` reads it newest first.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from databases import Database

from gateway.db.stamps import BadCursor, decode_cursor, encode_cursor, iso, stamp, utcnow
from gateway.db.tables import audit_events

KEY_CREATE, KEY_REVOKE, RECORD_DELETE, ADMIN_DENIED = "key.create", "key.revoke", "record.delete", "admin.denied"
ACTIONS = (KEY_CREATE, KEY_REVOKE, RECORD_DELETE, ADMIN_DENIED)
DONE, DENIED = "ok", "denied"


@dataclass(frozen=True)
class Event:
    actor: str
    role: str
    action: str
    target: str | None = None
    outcome: str = DONE
    request_id: str | None = None
    client: str | None = None
    at: dt.datetime = field(default_factory=utcnow)
    id: uuid.UUID = field(default_factory=uuid.uuid4)


def _item(row: Any) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "at": iso(row["at"]),
        "actor": row["actor"],
        "role": row["role"],
        "action": row["action"],
        "target": row["target"],
        "outcome": row["outcome"],
        "request_id": row["request_id"],
        "client": row["client"],
    }


class AuditLog:
    def __init__(self, database: Database, kind: str) -> None:
        self.db = database
        self.kind = kind

    async def append(self, event: Event) -> None:
        await self.db.execute(
            audit_events.insert().values(
                id=event.id,
                at=event.at,
                actor=event.actor[:200],
                role=event.role,
                action=event.action,
                target=event.target[:300] if event.target else None,
                outcome=event.outcome,
                request_id=event.request_id,
                client=event.client[:100] if event.client else None,
            )
        )

    async def page(self, limit: int, before: str | None = None, action: str | None = None) -> dict[str, Any]:
        """Newest first; `next` is the cursor of the page after this one (None on the last).
        A `before` this log did not issue raises BadCursor."""
        query = sa.select(audit_events)
        if before is not None:
            at, event_id = decode_cursor(before)
            query = query.where(
                sa.tuple_(audit_events.c.at, audit_events.c.id) < sa.tuple_(stamp(self.kind, at), event_id)
            )
        if action is not None:
            query = query.where(audit_events.c.action == action)
        query = query.order_by(audit_events.c.at.desc(), audit_events.c.id.desc()).limit(limit + 1)
        rows = await self.db.fetch_all(query)
        items = [_item(row) for row in rows[:limit]]
        last = rows[limit - 1] if len(rows) > limit else None
        next_cursor = encode_cursor(last["at"], last["id"]) if last is not None else None
        return {"items": items, "next": next_cursor}


__all__ = ["ACTIONS", "AuditLog", "BadCursor", "Event"]
