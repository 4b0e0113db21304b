"""The upkeep of records that nobody's request does: a live stream's heartbeat, the sweep of
streams a crashed process left `streaming`, and (later) retention.

Statements that touch many records at once; each passes over rows another transaction holds, so
none of them ever waits for a stream's own writes. Never imports Starlette.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from databases import Database

from gateway.stamps import stamp, utcnow
from gateway.store import SWEPT
from gateway.tables import records


class Upkeep:
    def __init__(self, database: Database, kind: str) -> None:
        self.db = database
        self.kind = kind

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
            else records.c.heartbeat_at < stamp(self.kind, now - stale_after)
        )
        query = (
            records.update()
            .where(records.c.id.in_(_live(condition)))
            .values(status="interrupted", error=SWEPT, completed_at=now, instance_id=None)
            .returning(records.c.id)
        )
        return len(await self.db.fetch_all(query))


def _live(condition: sa.ColumnElement[bool]) -> sa.ScalarSelect[Any]:
    """The live records that match, locked, passing over those whose end is being written, so the
    statements that touch many live records at once (heartbeat, sweep) never wait for a row: a
    group commit's batch of final writes holds its rows and takes the next, and an UPDATE of them
    all that waited for one row while holding another would deadlock with it. A record whose end
    is being written needs no heartbeat and is not abandoned. (SQLite, one writer, ignores it.)"""
    live = sa.select(records.c.id).where(records.c.status == "streaming", condition)
    return live.with_for_update(skip_locked=True).scalar_subquery()
