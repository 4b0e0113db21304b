"""The routes that answer at once: health, history, search, the page, metrics, the API description."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from gateway import __version__, metrics, openapi
from gateway.audit import RECORD_DELETE, AuditLog
from gateway.auth import audit_event, principal
from gateway.errors import Invalid, NotFound
from gateway.inputs import HISTORY_FIELDS, SEARCH_FIELDS, parse_fields, parse_uuid
from gateway.search import Search
from gateway.stamps import BadCursor, decode_cursor
from gateway.store import Store

STATIC = Path(__file__).resolve().parent / "static"
HEALTH_TIMEOUT = 2.0


async def health(request: Request) -> Response:
    store: Store = request.state.store
    body: dict[str, object] = {
        "status": "ok",
        "database": "ok",
        "llm": request.state.llm.routing.llm_name,
        "version": __version__,
        "upstreams": request.state.llm.describe(),  # their names and states, never a key
    }
    try:
        await asyncio.wait_for(store.ping(), timeout=HEALTH_TIMEOUT)
    except Exception:
        body.update(status="unavailable", database="error")
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)


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


async def page(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})


async def metrics_endpoint(request: Request) -> Response:
    body, media_type = metrics.render()
    return Response(body, media_type=media_type)


async def openapi_endpoint(request: Request) -> Response:
    return JSONResponse(openapi.spec(request.state.settings, __version__))


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
