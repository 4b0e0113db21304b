"""What a response continues, from the gateway's own records (no upstream keeps it): the earlier
turns of its `previous_response_id` chain or its `conversation`, as chat messages for a chat
upstream (`replay`) or as Responses input items for an upstream that serves the Responses API
(`as_items`), and the items an `item_reference` names.

Item ids are the gateway's: `msg_<record>` is a response's message, `fc_<record>_<n>` its n-th
function call, `rs_<record>_<n>` its n-th reasoning item, and `in_<record>_<n>` the n-th input
item a record was given (its messages as items, `record_items`). A reference to another caller's
item, or to none, is 404, as OpenAI says it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from gateway.errors import Invalid, NotFound
from gateway.history import messages as record
from gateway.history.conversations import Conversations
from gateway.history.store import Store
from gateway.history.turns import Turn
from gateway.inputs import parse_int
from gateway.openai.response_object import record_id_of
from gateway.upstreams.llm import text_of

ITEM_ID = re.compile(r"(msg|fc|rs|in)_([0-9a-f]{32})(?:_(\d+))?")


def missing(item_id: str) -> NotFound:
    return NotFound(f"Item with id '{item_id}' not found.")


async def resolve_references(store: Store, body: dict[str, Any], owner: uuid.UUID | None) -> dict[str, Any]:
    """The request with each `item_reference` of its input replaced by the item it names."""
    given = body.get("input")
    if not isinstance(given, list) or not any(isinstance(i, dict) and i.get("type") == "item_reference" for i in given):
        return body
    rows: dict[uuid.UUID, dict[str, Any] | None] = {}
    resolved: list[Any] = []
    for item in given:
        if not (isinstance(item, dict) and item.get("type") == "item_reference"):
            resolved.append(item)
            continue
        item_id = item.get("id")
        matched = ITEM_ID.fullmatch(item_id) if isinstance(item_id, str) else None
        if matched is None:
            raise missing(str(item_id))
        record_id = uuid.UUID(hex=matched.group(2))
        if record_id not in rows:
            rows[record_id] = await store.row(record_id, owner)
        row = rows[record_id]
        found = item_of(row, matched.group(1), int(matched.group(3) or 0)) if row is not None else None
        if found is None or row is None or row["redacted_at"] is not None:
            raise missing(str(item_id))
        resolved.append(found)
    return {**body, "input": resolved}


def item_of(row: dict[str, Any], kind: str, index: int) -> dict[str, Any] | None:
    """One item of a record, as the Responses API gives it back."""
    if kind == "msg":
        text = row["response"]
        content = [{"type": "output_text", "text": text, "annotations": []}]
        return {"type": "message", "role": "assistant", "content": content} if text else None
    listed = json.loads(row[{"fc": "tool_calls", "rs": "thinking", "in": "messages"}[kind]] or "null") or []
    if kind == "in":
        listed = as_items([record.replayable(message) for message in listed])
    if kind == "rs":
        listed = [block for block in listed if isinstance(block, dict) and block.get("type") == "reasoning"]
    if index >= len(listed):
        return None
    if kind == "fc":
        function = listed[index].get("function") or {}
        return {"type": "function_call", "call_id": listed[index].get("id"), **function}
    found: dict[str, Any] = listed[index]
    return {key: value for key, value in found.items() if key != "id"} if kind == "rs" else found


async def earlier(
    store: Store,
    conversations: Conversations,
    previous_response_id: str | None,
    conversation: str | None,
    owner: uuid.UUID | None,
) -> tuple[list[Turn], uuid.UUID | None, uuid.UUID | None]:
    """The turns a response continues, the conversation it belongs to (None: a new one), and the
    record of its previous response."""
    if previous_response_id is not None and conversation is not None:
        raise Invalid("previous_response_id and conversation cannot be given together")
    if previous_response_id is not None:
        previous = record_id_of(previous_response_id)
        chain = await store.chain(previous, owner) if previous else None
        if chain is None:
            raise NotFound(f"Previous response with id '{previous_response_id}' not found.")
        if chain.status == "streaming":
            raise Invalid(f"previous_response_id: the response '{previous_response_id}' is still in progress")
        return chain.turns, chain.conversation_id, previous
    if conversation is not None:
        conversation_id = record_id_of(conversation, "conv_")
        found = await conversations.get(conversation_id, owner) if conversation_id else None
        if found is None:
            raise NotFound(f"Conversation with id '{conversation}' not found.")
        return await store.conversation(found.id, owner) or [], found.id, None
    return [], None, None


def replay(turns: list[Turn]) -> list[dict[str, Any]]:
    """Earlier responses as chat messages: what each was given, then what it answered (its text, its
    tool calls, which the next turn's function_call_output items answer, and its signed thinking
    blocks, for an upstream that wants them back)."""
    messages: list[dict[str, Any]] = []
    for turn in turns:
        given = turn.messages or [{"role": "user", "content": turn.prompt}]
        messages.extend(record.replayable(message) for message in given)
        if turn.response or turn.tool_calls:
            said: dict[str, Any] = {"role": "assistant", "content": turn.response or None}
            if turn.tool_calls:
                said["tool_calls"] = turn.tool_calls
            if turn.thinking:
                said["thinking_blocks"] = turn.thinking
            messages.append(said)
    return messages


def settle_calls(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat-completions wants every tool call answered by the tool messages right after it; a call
    nobody answered (the conversation went on without its result) is told as text instead."""
    settled = []
    for position, message in enumerate(messages):
        calls = message.get("tool_calls") if message.get("role") == "assistant" else None
        if calls:
            answered = set()
            for later in messages[position + 1 :]:
                if later.get("role") != "tool":
                    break
                answered.add(later.get("tool_call_id"))
            kept = [call for call in calls if call.get("id") in answered]
            told = [record.call_note(call) for call in calls if call.get("id") not in answered]
            message = {name: value for name, value in message.items() if name != "tool_calls"}
            if kept:
                message["tool_calls"] = kept
            if told:
                message["content"] = "\n".join([text_of(message.get("content")), *told]).strip()
        settled.append(message)
    return settled


def record_items(row: dict[str, Any]) -> list[dict[str, Any]]:
    """A record's items, each with its id: what it was given, then what it answered."""
    hex_ = row["id"].hex
    asked = json.loads(row["messages"]) if row["messages"] else [{"role": "user", "content": row["prompt"]}]
    given = as_items([record.replayable(m) for m in asked])
    items = [{"id": f"in_{hex_}_{n}", **item} for n, item in enumerate(given)]
    reasoning = [b for b in json.loads(row["thinking"] or "[]") if isinstance(b, dict) and b.get("type") == "reasoning"]
    items += [{**block, "id": f"rs_{hex_}_{n}"} for n, block in enumerate(reasoning)]
    if row["response"]:
        items.append({"id": f"msg_{hex_}", **(item_of(row, "msg", 0) or {})})
    for n, call in enumerate(json.loads(row["tool_calls"] or "[]")):
        function = call.get("function") or {}
        items.append({"id": f"fc_{hex_}_{n}", "type": "function_call", "call_id": call.get("id"), **function})
    return items


def as_items(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages as Responses input items (what an upstream of the Responses API is given of the
    earlier turns): messages, each reasoning item kept, function calls and their outputs."""
    items: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "tool":
            output = message.get("content")
            items.append(
                {"type": "function_call_output", "call_id": message.get("tool_call_id"), "output": text_of(output)}
            )
            continue
        if role == "assistant":
            blocks = message.get("thinking_blocks") or ()
            items += [block for block in blocks if isinstance(block, dict) and block.get("type") == "reasoning"]
        content = message.get("content")
        if content:
            items.append({"type": "message", "role": role, "content": _parts(content, role == "assistant")})
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            items.append({"type": "function_call", "call_id": call.get("id"), **function})
    return items


def _parts(content: Any, said: bool) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "output_text", "text": content} if said else {"type": "input_text", "text": content}]
    parts = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append({"type": "output_text" if said else "input_text", "text": part.get("text", "")})
        elif kind == "image_url":
            parts.append({"type": "input_image", "image_url": (part.get("image_url") or {}).get("url")})
        elif kind == "file":
            parts.append({"type": "input_file", **(part.get("file") or {})})
    return parts


def item_page(items: list[dict[str, Any]], query: Mapping[str, str], default_order: str) -> dict[str, Any]:
    """A page of items as OpenAI lists them: `order` (`asc` oldest first, or `desc`), `limit` (1 to
    100, 20), after or before an item's id; `first_id`, `last_id`, `has_more`."""
    limit = parse_int(query.get("limit", "20"), "limit", 1, 100)
    order = query.get("order", default_order)
    if order not in ("asc", "desc"):
        raise Invalid("order must be asc or desc")
    listed = items[::-1] if order == "desc" else list(items)
    for name in ("after", "before"):
        mark = query.get(name)
        if mark is not None:
            ids = [item["id"] for item in listed]
            if mark not in ids:
                raise missing(mark)
            at = ids.index(mark)
            listed = listed[at + 1 :] if name == "after" else listed[:at]
    page = listed[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(listed) > limit,
    }
