"""`POST /stream` and `GET /stream`: validate, continue a conversation, open the exchange, relay it.

A GET carrying `Last-Event-ID` (or `?last_event_id=`) starts no generation: it resumes a record
(resume.py).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.access.auth import principal
from gateway.access.endpoint import Endpoint
from gateway.access.roles import Permission
from gateway.errors import Invalid, NotFound
from gateway.history.messages import call_note, replayable
from gateway.history.store import Store
from gateway.history.turns import Turn
from gateway.inputs import read_json
from gateway.observability import logs
from gateway.settings import Settings
from gateway.streams.exchange import open_exchange
from gateway.streams.params import QUERY_EXTRAS, StreamParams, stream_params
from gateway.streams.relay import Relay
from gateway.streams.resume import resume
from gateway.upstreams.llm import Completion


async def stream_endpoint(request: Request) -> Response:
    settings: Settings = request.state.settings
    if request.method == "POST":
        principal(request.scope).require(Permission.STREAM)
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
            principal(request.scope).require(Permission.READ)
            return await resume(request, last_event_id)
        principal(request.scope).require(Permission.STREAM)
        params = stream_params(request.query_params, settings.max_prompt_chars, QUERY_EXTRAS)
    return await start_stream(request, params)


def build_messages(params: StreamParams, turns: list[Turn]) -> list[dict[str, Any]]:
    """The system prompt, the conversation's earlier turns oldest first, then the prompt."""
    messages: list[dict[str, Any]] = []
    if params.system:
        messages.append({"role": "system", "content": params.system})
    for turn in turns:
        if turn.messages:  # a /v1 exchange: what it was asked, as the upstream accepts it again
            messages.extend(replayable(message) for message in turn.messages)
        else:
            messages.append({"role": "user", "content": turn.prompt})
        said = [turn.response] if turn.response else []
        said += [call_note(call) for call in turn.tool_calls or ()]  # no tool's result follows
        if said:
            messages.append({"role": "assistant", "content": "\n".join(said)})
    messages.append({"role": "user", "content": params.prompt})
    return messages


async def start_stream(request: Request, params: StreamParams) -> Response:
    started = time.perf_counter()
    state = request.state
    store: Store = state.store
    settings: Settings = state.settings
    turns: list[Turn] = []
    conversation_id = params.conversation_id
    if conversation_id is not None:
        earlier = await store.conversation(conversation_id, owner=principal(request.scope).owner)
        if earlier is None:
            raise NotFound(f"conversation {conversation_id} not found")
        turns = earlier
    options = {"temperature": params.temperature, "max_tokens": params.max_tokens}
    completion = Completion(
        messages=build_messages(params, turns),
        model=params.model or settings.openai_model,
        options={name: value for name, value in options.items() if value is not None},
        request_id=logs.request_id(request.scope),
    )
    exchange = await open_exchange(
        request,
        completion,
        started=started,
        prompt=params.prompt,
        conversation_id=conversation_id or uuid.uuid4(),
        stream_format=params.stream_format,
        system=params.system,
    )
    return Relay(exchange, store, state.streams, settings, params.on_disconnect)


# /stream checks its own permission: a GET with Last-Event-ID reads a record (viewers may), any
# other request streams (they may not).
ROUTES: list[BaseRoute] = [Route("/stream", Endpoint(stream_endpoint), methods=["GET", "POST"])]
