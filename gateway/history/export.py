"""Records for export: every record of a time range (an owner's, or all), oldest first, read one page
at a time by key, so that a million records stream through constant memory and no long
transaction holds the table. Never imports Starlette."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import sqlalchemy as sa
from databases import Database

from gateway.db.stamps import stamp
from gateway.db.tables import records
from gateway.history.store import public
from gateway.history.turns import mine

PAGE = 500
EPOCH = dt.date(1970, 1, 1)


def span(first: dt.date | None, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Days `first` (default: the first record's) to `last`, both included, as a time range (UTC)."""
    start = first or EPOCH
    if start > last:
        raise ValueError("from must not be after to")
    return dt.datetime.combine(start, dt.time(), dt.UTC), dt.datetime.combine(
        last + dt.timedelta(days=1), dt.time(), dt.UTC
    )


def jsonl(page: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(record) + b"\n" for record in page)


async def pages(
    database: Database, kind: str, first: dt.datetime, last: dt.datetime, owner: uuid.UUID | None = None
) -> AsyncIterator[list[dict[str, Any]]]:
    """The records created from `first` (inclusive) to `last` (exclusive), as the API shows them,
    a page at a time."""
    after: tuple[dt.datetime, uuid.UUID] | None = None
    window = [records.c.created_at >= stamp(kind, first), records.c.created_at < stamp(kind, last), *mine(owner)]
    while True:
        where = list(window)
        if after is not None:
            where.append(sa.tuple_(records.c.created_at, records.c.id) > sa.tuple_(stamp(kind, after[0]), after[1]))
        query = records.select().where(*where).order_by(records.c.created_at, records.c.id).limit(PAGE)
        rows = await database.fetch_all(query)
        if not rows:
            return
        yield [public(row) for row in rows]
        if len(rows) < PAGE:
            return
        after = (rows[-1]["created_at"], rows[-1]["id"])
