"""`/v1/responses`: OpenAI's Responses API over any chat-completions upstream, stateful on the
gateway's own history.

`POST /v1/responses` reads the request (response_input.py), puts the earlier turns of its
`previous_response_id` chain (from the store: no upstream keeps them) before this turn's input,
and asks the upstream for a chat completion, streamed or whole; the answer goes back as a Response
object, or as the Responses API's events (response_events.py). A response is a record like any
other (`stream_format: "responses"`): in history and search, resumable by `Last-Event-ID`
(`GET /v1/responses/{id}?stream=true`), and another key's is 404. `store: false` keeps no text:
the record holds its usage and timings only, and it cannot be retrieved nor continued.
`background: true` generates on whether or not the client stays.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Scope

from gateway.access.auth import principal
from gateway.access.endpoint import Endpoint
from gateway.access.roles import Permission
from gateway.db.stamps import utcnow
from gateway.errors import Invalid, NotFound
from gateway.history import messages as record
from gateway.history.routes import delete_record
from gateway.history.store import Store, Turn
from gateway.inputs import check_text, read_json
from gateway.observability import logs
from gateway.openai.completions import record_whole, whole_headers
from gateway.openai.response_events import ResponseFrames
from gateway.openai.response_input import read_request
from gateway.openai.response_object import Final, Shape, record_id_of, response_object
from gateway.settings import Settings
from gateway.streams.exchange import open_exchange
from gateway.streams.live import Streams
from gateway.streams.relay import Relay
from gateway.streams.resume import Follow, parse_event_id
from gateway.upstreams.llm import Completion, text_of

FORMAT = "responses"


async def create_response(request: Request) -> Response:
    started = time.perf_counter()
    state = request.state
    settings: Settings = state.settings
    asked = read_request(await read_json(request, settings.max_body_bytes), settings.max_prompt_chars)
    turns: list[Turn] = []
    conversation_id = uuid.uuid4()
    previous: uuid.UUID | None = None
    if asked.previous_response_id is not None:
        previous = record_id_of(asked.previous_response_id)
        chain = await state.store.chain(previous, principal(request.scope).owner) if previous else None
        if chain is None:
            raise NotFound(f"Previous response with id '{asked.previous_response_id}' not found.")
        if chain.status == "streaming":
            raise Invalid(f"previous_response_id: the response '{asked.previous_response_id}' is still in progress")
        turns, conversation_id = chain.turns, chain.conversation_id
    system = [{"role": "system", "content": asked.instructions}] if asked.instructions else []
    prompt = record.prompt_of(asked.messages)
    check_text(prompt, "the input")
    model = asked.model or settings.openai_model
    completion = Completion(
        messages=settle_calls([*system, *replay(turns), *asked.messages]),
        model=model,
        options=asked.options,
        request_id=logs.request_id(request.scope),
    )
    record_id, now = uuid.uuid4(), utcnow()
    kept: dict[str, Any] = {
        "id": record_id,
        "created_at": now,
        "model": model,
        "system": asked.instructions,
        "messages": record.dumps(record.for_record(asked.messages)),
        "tools": record.dumps(asked.tools),
        "params": record.dumps(asked.params),
        "previous_response_id": previous,
    }
    shape = Shape.of(kept)  # what the answer says of its request, kept or not
    if not asked.store:
        kept.update(system=None, messages=None, tools=None, params=None, redacted_at=now)
    exchange = await open_exchange(
        request,
        completion,
        started=started,
        prompt=prompt if asked.store else "",
        conversation_id=conversation_id,
        stream_format=FORMAT,
        kept=kept,
        keep_text=asked.store,
        whole=not (asked.stream or asked.background),
    )
    if exchange.completed is not None:
        answer = await record_whole(request, exchange)
        body = response_object(shape, Final.of_answer(answer))
        return JSONResponse(body, headers=whole_headers(exchange))
    relay = Relay(
        exchange,
        state.store,
        state.streams,
        settings,
        "detach" if asked.background else "cancel",
        lambda answer: ResponseFrames(shape, answer),
    )
    if asked.stream:
        return relay
    unattended(state.streams, relay, request.scope)
    return JSONResponse(response_object(shape, None), headers=whole_headers(exchange))


def replay(turns: list[Turn]) -> list[dict[str, Any]]:
    """Earlier responses as chat messages: what each was given, then what it answered (its text and
    its tool calls, which the next turn's function_call_output items answer)."""
    messages: list[dict[str, Any]] = []
    for turn in turns:
        given = turn.messages or [{"role": "user", "content": turn.prompt}]
        messages.extend(record.replayable(message) for message in given)
        if turn.response or turn.tool_calls:
            said: dict[str, Any] = {"role": "assistant", "content": turn.response or None}
            if turn.tool_calls:
                said["tool_calls"] = turn.tool_calls
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


def unattended(streams: Streams, relay: Relay, scope: Scope) -> None:
    """A background response without a stream: generated to its end with nobody listening (a
    shutdown cuts it as it cuts any stream)."""
    gone = asyncio.Event()

    async def receive() -> Message:
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        return None

    streams.background(relay(dict(scope), receive, send))


def _missing(request: Request) -> NotFound:
    return NotFound(f"Response with id '{request.path_params['response_id']}' not found.")


def _record_id(request: Request) -> uuid.UUID:
    record_id = record_id_of(request.path_params["response_id"])
    if record_id is None:
        raise _missing(request)
    return record_id


async def _row(request: Request, record_id: uuid.UUID) -> dict[str, Any]:
    store: Store = request.state.store
    row = await store.row(record_id, principal(request.scope).owner)
    if row is None or row["stream_format"] != FORMAT or row["redacted_at"] is not None:
        raise _missing(request)
    return row


async def get_response(request: Request) -> Response:
    """The response as it stands; with `stream=true`, its events again, following it live until it
    ends (from `Last-Event-ID: <record_id>:<offset>`, only what comes after it)."""
    record_id = _record_id(request)
    row = await _row(request, record_id)
    shape = Shape.of(row)
    if request.query_params.get("stream", "false").lower() != "true":
        return JSONResponse(response_object(shape, Final.of_record(row)))
    offset = 0
    last_event_id = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if last_event_id:
        resumed, offset = parse_event_id(last_event_id)
        if resumed != record_id:
            raise Invalid("Last-Event-ID names another response")
    state = request.state
    snapshot = {name: row[name] for name in ("status", "response", "error", "model", "max_tokens")}
    return ResponseFollow(state, record_id, offset, snapshot, shape)


class ResponseFollow(Follow):
    """A response's events again: from its beginning, or after an offset of its text."""

    def __init__(self, state: Any, record_id: uuid.UUID, offset: int, snapshot: dict[str, Any], shape: Shape) -> None:
        # Sequence numbers after those an interrupted stream had reached (at most one an event).
        frames = ResponseFrames(shape, first=offset + 4 if offset else 0, resumed=offset > 0)
        super().__init__(
            state.store, state.streams, state.listener, record_id, offset, snapshot, state.settings, frames
        )
        self.events = frames
        self.replay = offset == 0

    def opening(self) -> bytes:
        return self.events.role() if self.replay else b""

    async def ending(self, record: dict[str, Any]) -> bytes:
        row = await self.store.row(self.record_id)
        if row is None:
            return self.events.error("not_found", "the response was deleted", self.sent)
        return self.events.closing(Final.of_record(row), self.sent)


async def delete_response(request: Request) -> Response:
    record_id = _record_id(request)
    await _row(request, record_id)
    if not await delete_record(request, record_id):
        raise _missing(request)
    return JSONResponse({"id": request.path_params["response_id"], "object": "response.deleted", "deleted": True})


READ, STREAM, DELETE = Permission.READ, Permission.STREAM, Permission.DELETE
ROUTES: list[BaseRoute] = [
    Route("/v1/responses", Endpoint(create_response, STREAM), methods=["POST"]),
    Route("/v1/responses/{response_id}", Endpoint(get_response, READ), methods=["GET"]),
    Route("/v1/responses/{response_id}", Endpoint(delete_response, DELETE), methods=["DELETE"]),
]
