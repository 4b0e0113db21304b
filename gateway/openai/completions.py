"""OpenAI-compatible routes, so the official SDKs work with `base_url=<gateway>/v1`.

`POST /v1/chat/completions` takes OpenAI's request and passes every field the gateway does not
own to the upstream as it came (chat.py validates the shape of messages and tools). It owns only
`stream` and `stream_options.include_usage`, which it always asks of the upstream and strips from
the answer when the client did not. `stream: true` relays the upstream's own chunks as they come
(tool calls, refusals, reasoning, logprobs: whatever they hold), then `data: [DONE]`;
`stream: false` answers with the upstream's `chat.completion` object as it came. Every call is
recorded like `/stream`, with its messages, tools, tool calls, finish reason and usage.
`/v1/embeddings` is passed through and not recorded; `/v1/models` lists the upstream's models.
Errors carry OpenAI's fields (`message`, `type`, `param`, `code`) besides the request id.
"""

from __future__ import annotations

import functools
import time
import uuid
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.access.endpoint import Endpoint
from gateway.access.roles import Permission
from gateway.errors import Invalid, NotFound
from gateway.history import messages as record
from gateway.inputs import (
    MAX_MODEL_CHARS,
    Field,
    check_fields,
    check_text,
    parse_fields,
    read_json,
    text,
)
from gateway.observability import logs
from gateway.openai import chat
from gateway.settings import Settings
from gateway.streams.exchange import Exchange, open_exchange
from gateway.streams.relay import Relay
from gateway.streams.whole import record_whole, whole_headers
from gateway.upstreams.anthropic.models import model_info, model_list
from gateway.upstreams.llm import Completion

OWNED = frozenset(("model", "messages", "stream"))  # the rest is passed through as it came


def _boolean(name: str) -> Field:
    def parse(value: Any) -> bool:
        if not isinstance(value, bool):
            raise Invalid(f"{name} must be true or false")
        return value

    return Field(name, parse, {"type": "boolean", "default": False}, default=False)


def _include_usage(value: Any) -> bool:
    """Whether the client asked for the usage chunk."""
    if not isinstance(value, dict):
        raise Invalid("stream_options must be an object")
    include = value.get("include_usage", False)
    if not isinstance(include, bool):
        raise Invalid("stream_options.include_usage must be true or false")
    return include


def _one(value: Any) -> int:
    if value != 1 or isinstance(value, bool):
        raise Invalid("n: only one choice a request is supported (the record keeps one answer)")
    return 1


def _passed(name: str, schema: dict[str, Any]) -> Field:
    """A field the upstream judges: described, passed through, not read."""
    return Field(name, lambda value: value, schema)


CONTENT = {
    "anyOf": [
        {"type": "string"},
        {"type": "null"},
        {
            "type": "array",
            "items": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}},
        },
    ]
}
MESSAGE = {
    "type": "object",
    "required": ["role"],
    "properties": {"role": {"enum": list(chat.ROLES)}, "content": CONTENT},
}
TOOL = {"type": "object", "properties": {"type": {"type": "string"}, "function": {"type": "object"}}}


@functools.cache
def chat_fields(max_prompt_chars: int) -> tuple[Field, ...]:
    """The fields the gateway reads or checks; every other field is passed through too."""
    return (
        Field(
            "messages",
            lambda value: chat.check_messages(value, max_prompt_chars),
            {"type": "array", "minItems": 1, "items": MESSAGE},
            required=True,
        ),
        text("model", MAX_MODEL_CHARS, non_blank=True),
        _boolean("stream"),
        Field(
            "stream_options",
            _include_usage,
            {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
            default=False,
        ),
        Field("tools", chat.check_tools, {"type": "array", "items": TOOL}),
        Field("n", _one, {"type": "integer", "enum": [1], "default": 1}, default=1),
        _passed("tool_choice", {"anyOf": [{"type": "string"}, {"type": "object"}]}),
        _passed("response_format", {"type": "object"}),
        _passed("temperature", {"type": "number"}),
        _passed("max_tokens", {"type": "integer"}),
        _passed("max_completion_tokens", {"type": "integer"}),
        _passed("stop", {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
        _passed("user", {"type": "string"}),
    )


async def chat_completions(request: Request) -> Response:
    started = time.perf_counter()
    settings: Settings = request.state.settings
    body = await read_json(request, settings.max_body_bytes)
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    fields = parse_fields(chat_fields(settings.max_prompt_chars), body, strict=False)
    check_fields(body, checked=("messages", "tools"))
    messages: list[dict[str, Any]] = fields["messages"]
    prompt, system = record.prompt_of(messages), record.system_of(messages)
    check_text(prompt, "the last user message")  # both are stored as text, not JSON
    check_text(system or "", "the system message")
    stream: bool = fields["stream"]
    completion = Completion(
        messages=messages,
        model=fields["model"] or settings.openai_model,
        options={name: value for name, value in body.items() if name not in OWNED},
        request_id=logs.request_id(request.scope),
        include_usage=fields["stream_options"],
        relay_raw=stream,
    )
    exchange = await open_exchange(
        request,
        completion,
        started=started,
        prompt=prompt,
        conversation_id=uuid.uuid4(),
        stream_format="chat.completions",
        system=system,
        include_usage=fields["stream_options"],
        kept={
            "messages": record.dumps(record.for_record(messages)),
            "tools": record.dumps(fields["tools"]),
            "params": record.dumps({name: value for name, value in body.items() if name not in ("messages", "tools")}),
        },
        whole=not stream,
    )
    state = request.state
    if stream:
        return Relay(exchange, state.store, state.streams, settings)
    return await _complete(request, exchange)


async def _complete(request: Request, exchange: Exchange) -> Response:
    """stream: false — the upstream's object as it came (or, from an upstream of another API, as
    OpenAI's `chat.completion`), once its record is written."""
    completed = exchange.completed
    assert completed is not None
    await record_whole(request, exchange)
    relayed = exchange.route is None or exchange.route.api == "chat"
    body = completed.raw if relayed else orjson.dumps(completed.body)
    return Response(body, media_type="application/json", headers=whole_headers(exchange))


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "gateway"}


async def models(request: Request) -> Response:
    """Every routable model; in Anthropic's shape for a client that says `anthropic-version`."""
    names = await request.state.llm.models()
    if "anthropic-version" in request.headers:
        return JSONResponse(model_list(names))
    return JSONResponse({"object": "list", "data": [_model(name) for name in names]})


async def model(request: Request) -> Response:
    name = request.path_params["model"]
    if name not in await request.state.llm.models():
        raise NotFound(f"The model '{name}' does not exist", code="model_not_found")
    if "anthropic-version" in request.headers:
        return JSONResponse(model_info(name))
    return JSONResponse(_model(name))


async def embeddings(request: Request) -> Response:
    """Passed through to the upstream's /embeddings (authenticated, rate limited, logged, counted),
    not recorded as an exchange."""
    settings: Settings = request.state.settings
    body = await read_json(request, settings.max_body_bytes)
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    if body.get("input") is None:
        raise Invalid("input is required")
    check_fields(body)
    body.setdefault("model", settings.openai_model)
    answered = await request.state.llm.embeddings(body, logs.request_id(request.scope))
    headers = {"x-upstream": answered.route.upstream} if answered.route else {}
    return Response(answered.raw, media_type="application/json", headers=headers)


READ, STREAM = Permission.READ, Permission.STREAM
ROUTES: list[BaseRoute] = [
    Route("/v1/chat/completions", Endpoint(chat_completions, STREAM), methods=["POST"]),
    Route("/v1/embeddings", Endpoint(embeddings, STREAM), methods=["POST"]),
    Route("/v1/models", Endpoint(models, READ), methods=["GET"]),
    Route("/v1/models/{model:path}", Endpoint(model, READ), methods=["GET"]),
]
