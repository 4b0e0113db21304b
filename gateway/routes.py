"""Health and history routes."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from gateway import __version__, metrics, openapi
from gateway.auth import principal
from gateway.errors import Invalid, NotFound
from gateway.inputs import QUERY_EXTRAS, check_text, parse_int, parse_uuid, read_json, stream_params
from gateway.resume import resume
from gateway.settings import Settings
from gateway.store import BadCursor, Store, decode_cursor
from gateway.streaming import start_stream

STATIC = Path(__file__).resolve().parent / "static"
HEALTH_TIMEOUT = 2.0
MAX_OFFSET = 1_000_000_000
MAX_QUERY_CHARS = 10_000


async def health(request: Request) -> Response:
    settings: Settings = request.state.settings
    store: Store = request.state.store
    body = {"status": "ok", "database": "ok", "llm": settings.llm_name, "version": __version__}
    try:
        await asyncio.wait_for(store.ping(), timeout=HEALTH_TIMEOUT)
    except Exception:
        body.update(status="unavailable", database="error")
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)


def _record_id(request: Request) -> uuid.UUID:
    return parse_uuid(request.path_params["record_id"], "id")


async def stream_endpoint(request: Request) -> Response:
    state = request.state
    settings: Settings = state.settings
    if request.method == "POST":
        body = await read_json(request, settings.max_body_bytes)
        if not isinstance(body, dict):
            raise Invalid("the body must be a JSON object")
        data = dict(body)
        for name in ("stream_format", "on_disconnect"):
            if name in request.query_params and name not in data:
                data[name] = request.query_params[name]
        params = stream_params(data, settings.max_prompt_chars)
    else:
        last_event_id = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
        if last_event_id:
            return await resume(request, last_event_id)
        params = stream_params(request.query_params, settings.max_prompt_chars, QUERY_EXTRAS)
    return await start_stream(request, params)


async def list_history(request: Request) -> Response:
    store: Store = request.state.store
    query = request.query_params
    limit = parse_int(query.get("limit", "10"), "limit", 1, 100)
    offset = parse_int(query.get("offset", "0"), "offset", 0, MAX_OFFSET)
    conversation_id = parse_uuid(query["conversation_id"], "conversation_id") if "conversation_id" in query else None
    before = None
    if "before" in query:
        try:
            before = decode_cursor(query["before"])
        except BadCursor:
            raise Invalid("before is not a cursor this gateway issued") from None
    page = await store.page(
        limit=limit, offset=offset, conversation_id=conversation_id, before=before, owner=principal(request.scope).owner
    )
    body: dict[str, object] = {
        "items": page.items,
        "total": page.total,
        "limit": limit,
        "offset": offset,
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
    store: Store = request.state.store
    record_id = _record_id(request)
    if not await store.delete(record_id, owner=principal(request.scope).owner):
        raise NotFound(f"record {record_id} not found")
    return Response(status_code=204)


async def page(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})


async def metrics_endpoint(request: Request) -> Response:
    body, media_type = metrics.render()
    return Response(body, media_type=media_type)


async def openapi_endpoint(request: Request) -> Response:
    return JSONResponse(openapi.spec(request.state.settings, __version__))


async def search(request: Request) -> Response:
    store: Store = request.state.store
    query = request.query_params
    text = query.get("query", "")
    if not text.strip():
        raise Invalid("query must not be empty")
    if len(text) > MAX_QUERY_CHARS:
        raise Invalid(f"query is longer than {MAX_QUERY_CHARS} characters")
    check_text(text, "query")
    lang = query.get("lang", "english")
    if lang not in await store.search_languages():
        raise Invalid(f"lang {lang!r} is not a text-search language of this database")
    limit = parse_int(query.get("limit", "10"), "limit", 1, 100)
    offset = parse_int(query.get("offset", "0"), "offset", 0, MAX_OFFSET)
    found = await store.search(text, lang, limit, offset, owner=principal(request.scope).owner)
    body: dict[str, object] = {"items": found.items, "total": found.total, "limit": limit, "offset": offset}
    if found.total_is_lower_bound:
        body["total_is_lower_bound"] = True
    return JSONResponse(body)
