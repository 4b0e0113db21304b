"""OpenAI's Conversations API on the gateway's own conversations (history/conversations.py):
`POST /v1/conversations`, `GET`/`POST`/`DELETE /v1/conversations/{id}` (its metadata),
`GET`/`POST /v1/conversations/{id}/items`, `GET`/`DELETE /v1/conversations/{id}/items/{item_id}`.

A conversation's id is `conv_<conversation_id>`: one begun by `/stream` or `/v1/chat/completions`
is listed here too. Its items are its records', in order: what each was given, then what it
answered (response_state.record_items). `POST /v1/responses` with `conversation` continues it.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.access.auth import principal
from gateway.access.endpoint import Endpoint
from gateway.access.roles import Permission
from gateway.errors import Invalid, NotFound
from gateway.history import messages as record
from gateway.history.conversations import ITEMS_FORMAT, Conversation, Conversations
from gateway.inputs import check_fields, read_json
from gateway.openai.response_items import to_messages
from gateway.openai.response_object import record_id_of
from gateway.openai.response_state import ITEM_ID, item_page, missing, record_items

PREFIX = "conv_"
MAX_METADATA = 16  # keys, as OpenAI allows


def shown(conversation: Conversation) -> dict[str, Any]:
    created = conversation.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    return {
        "id": PREFIX + conversation.id.hex,
        "object": "conversation",
        "created_at": int(created.timestamp()),
        "metadata": conversation.metadata,
    }


def metadata_of(body: dict[str, Any]) -> dict[str, Any]:
    given = body.get("metadata") or {}
    if not isinstance(given, dict) or len(given) > MAX_METADATA:
        raise Invalid(f"metadata must be an object of at most {MAX_METADATA} keys")
    if not all(isinstance(value, str) for value in given.values()):
        raise Invalid("metadata values must be strings")
    return given


async def body_of(request: Request) -> dict[str, Any]:
    body = await read_json(request, request.state.settings.max_body_bytes)
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    check_fields(body)
    return body


async def found(request: Request) -> tuple[Conversations, Conversation, uuid.UUID | None]:
    given = request.path_params["conversation_id"]
    owner = principal(request.scope).owner
    store: Conversations = request.state.conversations
    conversation_id = record_id_of(given, PREFIX)
    conversation = await store.get(conversation_id, owner) if conversation_id is not None else None
    if conversation is None:
        raise NotFound(f"Conversation with id '{given}' not found.")
    return store, conversation, owner


async def add_items(store: Conversations, conversation_id: uuid.UUID, owner: Any, items: Any) -> list[dict[str, Any]]:
    """Items a client adds: one record of them; the items as listed, with their ids."""
    if not isinstance(items, list) or not items:
        raise Invalid("items must be a non-empty list")
    left_out: list[str] = []
    messages = to_messages(items, left_out, [])
    if left_out:
        raise Invalid(f"items: {', '.join(left_out)} cannot be added to a conversation")
    prompt = record.prompt_of(messages) if messages else ""
    record_id = await store.add(conversation_id, owner, record.for_record(messages), prompt)
    rows = await store.records(conversation_id, owner)
    return [item for row in rows if row["id"] == record_id for item in record_items(row)]


async def create_conversation(request: Request) -> Response:
    body = await body_of(request)
    owner = principal(request.scope).owner
    store: Conversations = request.state.conversations
    made = await store.create(owner, metadata_of(body))
    if body.get("items"):
        await add_items(store, made.id, owner, body["items"])
    return JSONResponse(shown(made))


async def get_conversation(request: Request) -> Response:
    _, conversation, _ = await found(request)
    return JSONResponse(shown(conversation))


async def update_conversation(request: Request) -> Response:
    store, conversation, owner = await found(request)
    metadata = metadata_of(await body_of(request))
    await store.update(conversation, owner, metadata)
    return JSONResponse(shown(Conversation(conversation.id, conversation.created_at, metadata)))


async def delete_conversation(request: Request) -> Response:
    store, conversation, owner = await found(request)
    await store.delete(conversation, owner)
    return JSONResponse({"id": PREFIX + conversation.id.hex, "object": "conversation.deleted", "deleted": True})


async def all_items(store: Conversations, conversation: Conversation, owner: Any) -> list[dict[str, Any]]:
    return [item for row in await store.records(conversation.id, owner) for item in record_items(row)]


async def list_items(request: Request) -> Response:
    store, conversation, owner = await found(request)
    return JSONResponse(item_page(await all_items(store, conversation, owner), request.query_params, "desc"))


async def create_items(request: Request) -> Response:
    store, conversation, owner = await found(request)
    body = await body_of(request)
    added = await add_items(store, conversation.id, owner, body.get("items"))
    return JSONResponse(item_page(added, {"order": "asc", "limit": "100"}, "asc"))


async def get_item(request: Request) -> Response:
    store, conversation, owner = await found(request)
    item_id = request.path_params["item_id"]
    item = next((i for i in await all_items(store, conversation, owner) if i["id"] == item_id), None)
    if item is None:
        raise missing(item_id)
    return JSONResponse(item)


async def delete_item(request: Request) -> Response:
    """An item taken out of its record (an input message, a call, or the answer's text)."""
    store, conversation, owner = await found(request)
    item_id = request.path_params["item_id"]
    matched = ITEM_ID.fullmatch(item_id)
    rows = {row["id"]: row for row in await store.records(conversation.id, owner)}
    row = rows.get(uuid.UUID(hex=matched.group(2))) if matched is not None else None
    if matched is None or row is None or not any(item["id"] == item_id for item in record_items(row)):
        raise missing(item_id)
    kind, n = matched.group(1), int(matched.group(3) or 0)
    if kind == "msg":
        await store.edit(row["id"], response="")
    elif kind == "fc":
        calls = json.loads(row["tool_calls"] or "[]")
        del calls[n]
        await store.edit(row["id"], tool_calls=record.dumps(calls))
    elif kind == "rs":
        blocks = json.loads(row["thinking"] or "[]")
        reasoning = [i for i, block in enumerate(blocks) if block.get("type") == "reasoning"]
        del blocks[reasoning[n]]
        await store.edit(row["id"], thinking=record.dumps(blocks))
    else:
        kept = [item for item in record_items(row) if item["id"].startswith("in_") and item["id"] != item_id]
        if not kept and row["stream_format"] == ITEMS_FORMAT:
            await store.remove(row["id"])  # the record was only these items
        else:
            messages = (
                to_messages([{k: v for k, v in item.items() if k != "id"} for item in kept], [], []) if kept else []
            )
            await store.edit(row["id"], messages=json.dumps(messages))
    return JSONResponse(shown(conversation))


READ, STREAM, DELETE = Permission.READ, Permission.STREAM, Permission.DELETE
ROUTES: list[BaseRoute] = [
    Route("/v1/conversations", Endpoint(create_conversation, STREAM), methods=["POST"]),
    Route("/v1/conversations/{conversation_id}", Endpoint(get_conversation, READ), methods=["GET"]),
    Route("/v1/conversations/{conversation_id}", Endpoint(update_conversation, STREAM), methods=["POST"]),
    Route("/v1/conversations/{conversation_id}", Endpoint(delete_conversation, DELETE), methods=["DELETE"]),
    Route("/v1/conversations/{conversation_id}/items", Endpoint(list_items, READ), methods=["GET"]),
    Route("/v1/conversations/{conversation_id}/items", Endpoint(create_items, STREAM), methods=["POST"]),
    Route("/v1/conversations/{conversation_id}/items/{item_id}", Endpoint(get_item, READ), methods=["GET"]),
    Route("/v1/conversations/{conversation_id}/items/{item_id}", Endpoint(delete_item, DELETE), methods=["DELETE"]),
]
