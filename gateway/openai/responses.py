"""`/v1/responses`: OpenAI's Responses API over any upstream, stateful on the gateway's own history.

`POST /v1/responses` reads the request (response_input.py), resolves its `item_reference`s and
finds the earlier turns of its `previous_response_id` chain or its `conversation` (response_state.py:
from the store, whichever upstream answered them). An upstream that serves the Responses API is
sent the request as it came, those turns in its input, and its events are relayed with the
gateway's ids (response_relay.py); any other is asked for a chat completion, and its answer told
as the Responses API's events (response_events.py) or as a Response object. A response is a
record like any other (`stream_format: "responses"`): in history and search, resumable by
`Last-Event-ID` (`GET /v1/responses/{id}?stream=true`), and another key's is 404. `store: false`
keeps no text: the record holds its usage and timings only, and it cannot be retrieved nor
continued. `background: true` generates on whether or not the client stays, until it ends or is
cancelled (`POST /v1/responses/{id}/cancel`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Scope

from gateway.access.auth import principal
from gateway.access.endpoint import Endpoint
from gateway.access.roles import Permission
from gateway.db.stamps import utcnow
from gateway.history import messages as record
from gateway.inputs import check_text, read_json
from gateway.observability import logs
from gateway.openai.response_events import ResponseFrames
from gateway.openai.response_input import OWN, read_request
from gateway.openai.response_object import Final, Shape, response_object
from gateway.openai.response_relay import Ids, RelayedResponseFrames
from gateway.openai.response_state import as_items, earlier, replay, resolve_references, settle_calls
from gateway.settings import Settings
from gateway.streams.exchange import open_exchange
from gateway.streams.live import Streams
from gateway.streams.relay import Relay
from gateway.streams.whole import record_whole, whole_headers
from gateway.upstreams.llm import Completion

FORMAT = "responses"


async def create_response(request: Request) -> Response:
    started = time.perf_counter()
    state = request.state
    settings: Settings = state.settings
    owner = principal(request.scope).owner
    body = await read_json(request, settings.max_body_bytes)
    if isinstance(body, dict):
        body = await resolve_references(state.store, body, owner)
    asked = read_request(body, settings.max_prompt_chars)
    turns, conversation_id, previous = await earlier(
        state.store, state.conversations, asked.previous_response_id, asked.conversation, owner
    )
    system = [{"role": "system", "content": asked.instructions}] if asked.instructions else []
    prompt = record.prompt_of(asked.messages)
    check_text(prompt, "the input")
    model = asked.model or settings.openai_model
    history = replay(turns)
    completion = Completion(
        messages=settle_calls([*system, *history, *asked.messages]),
        model=model,
        options=asked.options,
        request_id=logs.request_id(request.scope),
        relay_raw=asked.stream,
        api=FORMAT,
        native=native_request(body, history),
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
        conversation_id=conversation_id or uuid.uuid4(),
        stream_format=FORMAT,
        kept=kept,
        keep_text=asked.store,
        whole=not (asked.stream or asked.background),
    )
    relayed = exchange.route is not None and exchange.route.api == FORMAT
    if not relayed:
        exchange.left_out = (*asked.left_out, *exchange.left_out)
    if exchange.completed is not None:
        answer = await record_whole(request, exchange)
        if relayed:
            whole = Ids(shape).response(orjson.loads(exchange.completed.raw))
        else:
            whole = response_object(shape, Final.of_answer(answer))
        return JSONResponse(whole, headers=whole_headers(exchange))
    relay = Relay(
        exchange,
        state.store,
        state.streams,
        settings,
        "detach" if asked.background else "cancel",
        lambda answer: RelayedResponseFrames(shape) if relayed else ResponseFrames(shape, answer),
    )
    if asked.stream:
        return relay
    unattended(state.streams, relay, request.scope)
    return JSONResponse(response_object(shape, None), headers=whole_headers(exchange))


def native_request(body: Any, history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The request an upstream of the Responses API is sent: the client's, as it came, but for what
    the gateway does itself: the earlier turns it found are in the input, and the response is
    generated in the background (if asked) by the gateway, not by the upstream."""
    if not isinstance(body, dict):
        return None
    sent = {name: value for name, value in body.items() if name not in OWN}
    if history:
        given = body.get("input")
        this_turn = [{"type": "message", "role": "user", "content": given}] if isinstance(given, str) else given
        sent["input"] = [*as_items(history), *(this_turn or [])]
    return sent


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


STREAM = Permission.STREAM
ROUTES: list[BaseRoute] = [Route("/v1/responses", Endpoint(create_response, STREAM), methods=["POST"])]
