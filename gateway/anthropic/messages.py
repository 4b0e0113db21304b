"""`POST /v1/messages` and `POST /v1/messages/count_tokens`: Anthropic's Messages API over any upstream.

The request is read as a chat completion (upstreams/anthropic/requests.py: what has no chat
equivalent is left out toward a chat upstream) and keeps the body as it came (`Completion.native`)
with its `anthropic-version` and `anthropic-beta` headers, for an Anthropic upstream, which gets it
exactly so. The exchange is recorded like any other (`stream_format: "messages"`): the messages
as chat messages (so `/stream` and `/v1` conversations can continue it), the tools and every other
parameter as sent. Errors are Anthropic's shape (errors.py). A client's key is taken as
`x-api-key`, as Anthropic's clients send it, or as `Authorization: Bearer`.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.access.endpoint import Endpoint
from gateway.access.roles import Permission
from gateway.anthropic.frames import MessageFrames, RelayedFrames
from gateway.errors import Invalid
from gateway.history import messages as record
from gateway.inputs import check_fields, check_text, read_json
from gateway.observability import logs
from gateway.settings import Settings
from gateway.streams.answer import Answer
from gateway.streams.exchange import Exchange, open_exchange
from gateway.streams.formats import Frames
from gateway.streams.relay import Relay
from gateway.streams.whole import record_whole, whole_headers
from gateway.upstreams.anthropic.chat_requests import ChatRequest, to_chat
from gateway.upstreams.anthropic.objects import to_message
from gateway.upstreams.anthropic.tokens import estimate_input_tokens
from gateway.upstreams.anthropic.writer import EventWriter
from gateway.upstreams.llm import Completion, estimate_prompt_tokens

FORMAT = "messages"
PASSED_HEADERS = ("anthropic-version", "anthropic-beta")
OWN = ("messages", "system", "tools")  # kept apart in the record; the rest goes in its params


async def read(request: Request) -> tuple[dict[str, Any], str]:
    """The body, and the model it asks for."""
    settings: Settings = request.state.settings
    body = await read_json(request, settings.max_body_bytes)
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    check_fields(body)
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise Invalid("model: Field required" if model is None else "model: Input should be a non-empty string")
    return body, model


def passed_headers(request: Request) -> tuple[tuple[str, str], ...]:
    return tuple((name, request.headers[name]) for name in PASSED_HEADERS if name in request.headers)


async def create_message(request: Request) -> Response:
    started = time.perf_counter()
    state = request.state
    body, model = await read(request)
    asked: ChatRequest = to_chat(body, state.settings.max_prompt_chars)
    stream = asked.stream
    given = [message for message in asked.messages if message.get("role") != "system"] or asked.messages
    prompt = record.prompt_of(given)
    check_text(prompt, "the last user message")
    completion = Completion(
        messages=asked.messages,
        model=model,
        options=asked.options,
        request_id=logs.request_id(request.scope),
        relay_raw=stream,
        api=FORMAT,
        native=body,
        headers=passed_headers(request),
    )
    exchange = await open_exchange(
        request,
        completion,
        started=started,
        prompt=prompt,
        conversation_id=uuid.uuid4(),
        stream_format=FORMAT,
        system=asked.system,
        kept={
            "messages": record.dumps(record.for_record(given)),
            "tools": record.dumps(body.get("tools")),
            "params": record.dumps({name: value for name, value in body.items() if name not in OWN}),
        },
        whole=not stream,
    )
    relayed = exchange.route is not None and exchange.route.api == FORMAT
    if not relayed:
        exchange.left_out = (*asked.left_out, *exchange.left_out)
    if not stream:
        return await whole(request, exchange, model)

    def frames(answer: Answer) -> Frames:
        if relayed:
            return RelayedFrames()
        return MessageFrames(EventWriter(message_id(exchange), model), estimate_prompt_tokens(completion.messages))

    return Relay(exchange, state.store, state.streams, state.settings, frames=frames)


def message_id(exchange: Exchange) -> str:
    return f"msg_{exchange.record_id.hex}"


async def whole(request: Request, exchange: Exchange, model: str) -> Response:
    """stream: false — an Anthropic upstream's message as it came, or any other's answer as one."""
    completed = exchange.completed
    assert completed is not None
    await record_whole(request, exchange)
    if exchange.route is not None and exchange.route.api == FORMAT:
        body = completed.raw
    else:
        body = orjson.dumps(to_message(completed.body, message_id(exchange), model))
    return Response(body, media_type="application/json", headers=whole_headers(exchange))


async def count_tokens(request: Request) -> Response:
    """The request's input tokens: counted by the Anthropic upstream its model routes to, or else
    estimated (and then said to be: `"estimated": true`)."""
    body, model = await read(request)
    counted = await request.state.llm.count_tokens(model, body, passed_headers(request), logs.request_id(request.scope))
    if counted is not None:
        return JSONResponse({"input_tokens": counted})
    return JSONResponse({"input_tokens": estimate_input_tokens(body), "estimated": True})


STREAM = Permission.STREAM
ROUTES: list[BaseRoute] = [
    Route("/v1/messages", Endpoint(create_message, STREAM), methods=["POST"]),
    Route("/v1/messages/count_tokens", Endpoint(count_tokens, STREAM), methods=["POST"]),
]
