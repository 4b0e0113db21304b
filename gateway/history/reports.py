"""The history as a whole: `GET /usage` (requests, tokens, errors, TTFT and cost per day, model or
key) and `GET /history/export` (every record of a time range as JSON lines, streamed).

A key sees its own; an admin (or the operator) everyone's, and may name one key."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from gateway.access.auth import principal
from gateway.access.keys import KeyStore
from gateway.access.roles import Permission
from gateway.db.stamps import utcnow
from gateway.errors import Invalid, NotFound
from gateway.history import export
from gateway.history.fields import EXPORT_FIELDS, MAX_USAGE_DAYS, USAGE_FIELDS
from gateway.history.store import Store
from gateway.history.usage import Usage
from gateway.inputs import parse_fields


async def usage(request: Request) -> Response:
    query = parse_fields(USAGE_FIELDS, request.query_params, strict=False)
    last: dt.date = query["to"] or utcnow().date()
    first: dt.date = query["from"] or max(last, dt.date.min + dt.timedelta(days=29)) - dt.timedelta(days=29)
    if first > last:
        raise Invalid("from must not be after to")
    if (last - first).days >= MAX_USAGE_DAYS:
        raise Invalid(f"from and to may be at most {MAX_USAGE_DAYS} days apart")
    who = principal(request.scope)
    owner = who.owner
    if query["key"] is not None and owner is not None:
        who.require(Permission.MANAGE)  # another key's usage is an admin's to read
    key_store: KeyStore = request.state.key_store
    names = {}
    if query["key"] is not None or query["group_by"] == "key":
        names = {key.id: key.name for key in await key_store.list_all()}
    if query["key"] is not None:
        owner = next((key_id for key_id, name in names.items() if name == query["key"]), None)
        if owner is None:
            raise NotFound(f"key {query['key']!r} not found")
    counted: Usage = request.state.usage
    return JSONResponse(await counted.report(first, last, query["group_by"], owner, names))


async def export_history(request: Request) -> Response:
    """Every record (the caller's) created from `from` to `to`, oldest first, one JSON object a line,
    read and sent a page at a time."""
    query = parse_fields(EXPORT_FIELDS, request.query_params, strict=False)
    last: dt.date = query["to"] or utcnow().date()
    try:
        start, end = export.span(query["from"], last)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    store: Store = request.state.store
    owner = principal(request.scope).owner

    pages = export.pages(store.db, store.kind, start, end, owner)
    # The first page is read before the answer starts, so that a database error is still a 503.
    first_page: list[dict[str, Any]] = await anext(pages, [])

    async def lines() -> AsyncIterator[bytes]:
        page = first_page
        while page:
            yield export.jsonl(page)
            page = await anext(pages, [])

    filename = f"history-{start.date().isoformat()}-{last.isoformat()}.jsonl"
    headers = {"content-disposition": f'attachment; filename="{filename}"', "cache-control": "no-store"}
    return StreamingResponse(lines(), media_type="application/x-ndjson", headers=headers)
