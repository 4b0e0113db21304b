"""The records, one at a time or by pages: `GET /history`, `GET` and `DELETE /history/{id}`, and
`GET /search`; `ROUTES` holds these and the reports' (`/usage`, `/history/export`)."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.access.audit import RECORD_DELETE, AuditLog
from gateway.access.auth import audit_event, principal
from gateway.access.endpoint import Endpoint
from gateway.access.roles import Permission
from gateway.db.stamps import BadCursor, decode_cursor
from gateway.errors import Invalid, NotFound
from gateway.history import reports
from gateway.history.fields import HISTORY_FIELDS, SEARCH_FIELDS
from gateway.history.search import Search
from gateway.history.store import Store
from gateway.inputs import parse_fields, parse_uuid


def _record_id(request: Request) -> uuid.UUID:
    return parse_uuid(request.path_params["record_id"], "id")


async def list_history(request: Request) -> Response:
    store: Store = request.state.store
    query = parse_fields(HISTORY_FIELDS, request.query_params, strict=False)
    before = None
    if query["before"] is not None:
        try:
            before = decode_cursor(query["before"])
        except BadCursor:
            raise Invalid("before is not a cursor this gateway issued") from None
    page = await store.page(
        limit=query["limit"],
        offset=query["offset"],
        conversation_id=query["conversation_id"],
        before=before,
        owner=principal(request.scope).owner,
    )
    body: dict[str, object] = {
        "items": page.items,
        "total": page.total,
        "limit": query["limit"],
        "offset": query["offset"],
        "next": page.next,
    }
    if page.total_is_lower_bound:
        body["total_is_lower_bound"] = True
    return JSONResponse(body)


async def get_history(request: Request) -> Response:
    store: Store = request.state.store
    record_id = _record_id(request)
    record = await store.get(record_id, owner=principal(request.scope).owner)
    if record is None:
        raise NotFound(f"record {record_id} not found")
    return JSONResponse(record)


async def delete_history(request: Request) -> Response:
    record_id = _record_id(request)
    if not await delete_record(request, record_id):
        raise NotFound(f"record {record_id} not found")
    return Response(status_code=204)


async def delete_record(request: Request, record_id: uuid.UUID) -> bool:
    """Delete a record of the caller's, with its audit event: both land, or neither."""
    store: Store = request.state.store
    audit: AuditLog = request.state.audit
    async with store.db.transaction():
        if not await store.delete(record_id, owner=principal(request.scope).owner):
            return False
        await audit.append(audit_event(request.scope, RECORD_DELETE, str(record_id)))
    return True


async def search(request: Request) -> Response:
    search: Search = request.state.search
    query = parse_fields(SEARCH_FIELDS, request.query_params, strict=False)
    lang = query["lang"]
    if lang not in await search.languages():
        raise Invalid(f"lang {lang!r} is not a text-search language of this database")
    found = await search.find(query["query"], lang, query["limit"], query["offset"], principal(request.scope).owner)
    body: dict[str, object] = {"items": found.items, "total": found.total, "limit": query["limit"]}
    body["offset"] = query["offset"]
    if found.total_is_lower_bound:
        body["total_is_lower_bound"] = True
    return JSONResponse(body)


READ, DELETE = Permission.READ, Permission.DELETE
ROUTES: list[BaseRoute] = [
    Route("/history", Endpoint(list_history, READ), methods=["GET"]),
    Route("/history/export", Endpoint(reports.export_history, READ), methods=["GET"]),
    Route("/history/{record_id}", Endpoint(get_history, READ), methods=["GET"]),
    Route("/history/{record_id}", Endpoint(delete_history, DELETE), methods=["DELETE"]),
    Route("/search", Endpoint(search, READ), methods=["GET"]),
    Route("/usage", Endpoint(reports.usage, READ), methods=["GET"]),
]
