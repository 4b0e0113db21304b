"""The upkeep of records that nobody's request does: a live stream's heartbeat, the sweep of
streams a crashed process left `streaming`, retention (records deleted after RETENTION_DAYS or
their key's own days; their text removed, their usage kept, after PROMPT_RETENTION_DAYS), and the
folding of past days' usage rows into one a day.

Statements that touch many records at once; each passes over rows another transaction holds, so
none of them ever waits for a stream's own writes. Retention goes in batches, each its own short
transaction, with a pause between them, so that deleting a million records never holds a lock, nor
the database, long enough to slow the streams beside it. Never imports Starlette.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from databases import Database

from gateway.db.stamps import stamp, utcnow
from gateway.db.tables import USAGE_COUNTS, records
from gateway.history.store import SWEPT

# Rows a retention statement takes at once, and the pause after each: four times as long as the
# batch took, so that the sweep takes at most a fifth of the database's time, however busy it is
# (docs/performance.md: with 500 and three times, paced streams ran 0.02x slower while it deleted).
BATCH = {"postgresql": 250, "sqlite": 200}
PAUSE_SHARE = 4.0
PAUSE_SECONDS = 0.02  # at least
# What removing a record's text blanks: everything it was asked and answered.
TEXT = {"prompt": "", "response": "", "system": None, "messages": None, "tools": None, "tool_calls": None,
        "tool_text": None, "params": None, "reasoning": None, "thinking": None}  # fmt: skip


@dataclass(frozen=True)
class Retention:
    """How long records are kept: `days` (0: for good), some keys' own days (by key id), and how
    long their text is kept (0: as long as the record)."""

    days: int = 0
    by_key: Mapping[uuid.UUID, int] = field(default_factory=dict)
    text_days: int = 0

    @property
    def active(self) -> bool:
        return bool(self.days or self.by_key or self.text_days)


@dataclass
class Expired:
    deleted: int = 0
    redacted: int = 0


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

    async def expire(self, retention: Retention, now: dt.datetime | None = None) -> Expired:
        """Delete the records past their retention, then remove the text of those past the text's;
        in batches, until none is left."""
        now = now or utcnow()
        done = Expired()
        for owner, days in retention.by_key.items():
            done.deleted += await self._batches(records.c.api_key_id == owner, now - dt.timedelta(days=days))
        if retention.days:
            others: sa.ColumnElement[bool] = sa.true()
            if retention.by_key:  # the keys with days of their own are done (not NOT IN: `databases`
                # binds an expanding UUID list on SQLite untyped)
                owned = sa.and_(*(records.c.api_key_id != owner for owner in retention.by_key))
                others = sa.or_(records.c.api_key_id.is_(None), owned)
            done.deleted += await self._batches(others, now - dt.timedelta(days=retention.days))
        if retention.text_days:
            cutoff = now - dt.timedelta(days=retention.text_days)
            done.redacted = await self._batches(records.c.redacted_at.is_(None), cutoff, redact=now)
        return done

    async def compact_usage(self, today: dt.date | None = None) -> int:
        """Fold the usage rows of past days into one row a day, owner and model (shard 0): each
        connection adds to rows of its own while a day is current (the `shard`), so that no two
        transactions wait for one row; once it is over, one row is all a report needs. Days before
        yesterday only, so the last ends of yesterday's streams have come in. Rows folded."""
        if self.kind != "postgresql":
            return 0  # one writer, one shard
        before = (today or utcnow().date()) - dt.timedelta(days=1)
        counts = ", ".join(USAGE_COUNTS)
        sums = ", ".join(f"sum({name})" for name in USAGE_COUNTS)
        added = ", ".join(f"{name} = usage_daily.{name} + excluded.{name}" for name in USAGE_COUNTS)
        folded = await self.db.fetch_val(
            f"WITH moved AS (DELETE FROM usage_daily WHERE day < :before AND shard <> 0 RETURNING *), "
            f"added AS (INSERT INTO usage_daily (day, owner, model, shard, {counts}) "
            f"SELECT day, owner, model, 0, {sums} FROM moved GROUP BY day, owner, model "
            f"ON CONFLICT (day, owner, model, shard) DO UPDATE SET {added}) "
            f"SELECT count(*) FROM moved",
            {"before": before},
        )
        return int(folded or 0)

    async def _batches(
        self, condition: sa.ColumnElement[bool], cutoff: dt.datetime, redact: dt.datetime | None = None
    ) -> int:
        """Delete (or, with `redact`, blank) the ended records made before `cutoff` that match, a
        batch at a time, oldest first."""
        size = BATCH[self.kind]
        total = 0
        while True:
            batch = (
                sa.select(records.c.id)
                .where(condition, records.c.created_at < stamp(self.kind, cutoff), records.c.status != "streaming")
                .order_by(records.c.created_at)
                .limit(size)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            if redact is None:
                query: Any = records.delete().where(records.c.id.in_(batch))
            else:
                query = records.update().where(records.c.id.in_(batch)).values(**TEXT, redacted_at=redact)
            started = time.perf_counter()
            count = len(await self.db.fetch_all(query.returning(records.c.id)))
            total += count
            if count < size:
                return total
            await asyncio.sleep(max(PAUSE_SECONDS, (time.perf_counter() - started) * PAUSE_SHARE))


def _live(condition: sa.ColumnElement[bool]) -> sa.ScalarSelect[Any]:
    """The live records that match, locked, passing over those whose end is being written, so the
    statements that touch many live records at once (heartbeat, sweep) never wait for a row: a
    group commit's batch of final writes holds its rows and takes the next, and an UPDATE of them
    all that waited for one row while holding another would deadlock with it. A record whose end
    is being written needs no heartbeat and is not abandoned. (SQLite, one writer, ignores it.)"""
    live = sa.select(records.c.id).where(records.c.status == "streaming", condition)
    return live.with_for_update(skip_locked=True).scalar_subquery()
