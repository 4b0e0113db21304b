"""OpenAI-compatible routes, so the official SDKs work with `base_url=<gateway>/v1`.

`POST /v1/chat/completions` takes OpenAI's request (`messages`, `model`, `stream`,
`stream_options.include_usage`, `temperature`, `max_tokens` or `max_completion_tokens`, `stop`,
`user`; other OpenAI parameters are accepted and ignored, `n` other than 1 is refused) and answers
as OpenAI does: SSE chunks ending in `data: [DONE]`, or one `chat.completion` object. Every call is
recorded like `/stream`: the prompt is the last user message and the record keeps all messages.
Errors carry OpenAI's fields (`message`, `type`, `param`, `code`) besides the request id.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway import formats, logs
from gateway.answer import Answer
from gateway.errors import GatewayError, Invalid, UpstreamError
from gateway.exchange import SHUTDOWN_CUT, Exchange, open_exchange, write_ending
from gateway.inputs import (
    MAX_MODEL_CHARS,
    MAX_TOKENS,
    Field,
    check_text,
    integer,
    number,
    parse_fields,
    read_json,
    text,
)
from gateway.llm import Completion, StreamFailed
from gateway.relay import Relay
from gateway.settings import Settings

ROLES = ("system", "developer", "user", "assistant", "tool")


def _content(value: Any, index: int) -> str:
    """A message's text: a string, or OpenAI's list of content parts (text parts joined)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, list):
        texts = []
        for part in value:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise Invalid(f"messages[{index}].content: only text parts are supported")
            texts.append(part["text"])
        return "".join(texts)
    raise Invalid(f"messages[{index}].content must be a string or a list of text parts")


def parse_messages(value: Any, max_chars: int) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise Invalid("messages must be a non-empty list")
    messages = []
    total = 0
    for index, message in enumerate(value):
        if not isinstance(message, dict):
            raise Invalid(f"messages[{index}] must be an object")
        role = message.get("role")
        if role not in ROLES:
            raise Invalid(f"messages[{index}].role must be one of {', '.join(ROLES)}")
        content = _content(message.get("content"), index)
        check_text(content, f"messages[{index}].content")
        total += len(content)
        messages.append({"role": "system" if role == "developer" else str(role), "content": content})
    if total > max_chars:
        raise Invalid(f"messages are longer than {max_chars} characters in all")
    if not any(m["role"] == "user" and m["content"].strip() for m in messages):
        raise Invalid("messages must hold a non-blank user message")
    return messages


def _stop(value: Any) -> list[str]:
    if isinstance(value, str):
        check_text(value, "stop")
        return [value]
    if isinstance(value, list) and len(value) <= 4 and all(isinstance(s, str) and s for s in value):
        for index, stop in enumerate(value):
            check_text(stop, f"stop[{index}]")
        return list(value)
    raise Invalid("stop must be a string or a list of up to 4 strings")


def _boolean(name: str) -> Field:
    def parse(value: Any) -> bool:
        if not isinstance(value, bool):
            raise Invalid(f"{name} must be true or false")
        return value

    return Field(name, parse, {"type": "boolean", "default": False}, default=False)


def _stream_options(value: Any) -> bool:
    """Whether the client asked for the usage chunk."""
    if not isinstance(value, dict):
        raise Invalid("stream_options must be an object")
    include = value.get("include_usage", False)
    if not isinstance(include, bool):
        raise Invalid("stream_options.include_usage must be true or false")
    return include


def _one(value: Any) -> int:
    if value != 1 or isinstance(value, bool):
        raise Invalid("n: only one choice is supported")
    return 1


def _user(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("user must be a string")
    check_text(value, "user")
    return value


MESSAGE_SCHEMA = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"enum": list(ROLES)},
        "content": {
            "anyOf": [
                {"type": "string"},
                {"type": "null"},
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["type", "text"],
                        "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
                    },
                },
            ]
        },
    },
}


@functools.cache
def chat_fields(max_prompt_chars: int) -> tuple[Field, ...]:
    """The fields the gateway reads; OpenAI's others are accepted and ignored."""
    return (
        Field(
            "messages",
            lambda value: parse_messages(value, max_prompt_chars),
            {"type": "array", "minItems": 1, "items": MESSAGE_SCHEMA},
            required=True,
        ),
        text("model", MAX_MODEL_CHARS, non_blank=True),
        _boolean("stream"),
        Field(
            "stream_options",
            _stream_options,
            {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
            default=False,
        ),
        number("temperature", 0, 2),
        integer("max_tokens", 1, MAX_TOKENS),
        integer("max_completion_tokens", 1, MAX_TOKENS),
        Field(
            "stop",
            _stop,
            {
                "anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 4},
                ]
            },
            default=[],
        ),
        Field("user", _user, {"type": "string"}),
        Field("n", _one, {"type": "integer", "enum": [1], "default": 1}, default=1),
    )


async def chat_completions(request: Request) -> Response:
    started = time.perf_counter()
    settings: Settings = request.state.settings
    body = await read_json(request, settings.max_body_bytes)
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    fields = parse_fields(chat_fields(settings.max_prompt_chars), body, strict=False)
    messages = fields["messages"]
    prompt = next(m["content"] for m in reversed(messages) if m["role"] == "user" and m["content"].strip())
    completion = Completion(
        messages=messages,
        model=fields["model"] or settings.openai_model,
        temperature=fields["temperature"],
        max_tokens=fields["max_completion_tokens"] or fields["max_tokens"],
        request_id=logs.request_id(request.scope),
        stop=fields["stop"],
        user=fields["user"],
    )
    exchange = await open_exchange(
        request,
        completion,
        started=started,
        prompt=prompt,
        conversation_id=uuid.uuid4(),
        stream_format="chat.completions",
        system=next((m["content"] for m in messages if m["role"] == "system"), None),
        include_usage=fields["stream_options"],
        keep_messages=True,
    )
    state = request.state
    if fields["stream"]:
        return Relay(exchange, state.store, state.streams, settings)
    return await _complete(request, exchange)


async def _complete(request: Request, exchange: Exchange) -> Response:
    """stream: false — the whole answer in one chat.completion object (or an error status,
    since nothing has been sent yet)."""
    store = request.state.store
    answer = Answer(exchange.started, exchange.completion.messages)
    error: GatewayError | None = None
    try:
        async for chunk in exchange.chunks:
            if chunk.text:
                answer.add(chunk.text, time.perf_counter())
            answer.finish_reason = chunk.finish_reason or answer.finish_reason
            answer.usage = chunk.usage or answer.usage
    except StreamFailed as exc:
        error = UpstreamError(exc.message)
    except asyncio.CancelledError:  # a shutdown: the record keeps the text; the client gets a 503
        await request.state.streams.settle(
            write_ending(store, exchange.record_id, answer.ending("error", SHUTDOWN_CUT))
        )
        raise
    finally:
        await exchange.chunks.aclose()
    unfinished = answer.unfinished()
    if error is None and unfinished is not None:
        error = UpstreamError(unfinished[1])
    usage = answer.final_usage()
    await write_ending(
        store, exchange.record_id, answer.ending("error" if error else "complete", error.message if error else None)
    )
    if error is not None:
        raise error
    return JSONResponse(
        {
            "id": formats.completion_id(exchange.record_id.hex),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": exchange.completion.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text(), "refusal": None},
                    "logprobs": None,
                    "finish_reason": answer.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            },
        },
        headers={"x-record-id": str(exchange.record_id), "x-conversation-id": str(exchange.conversation_id)},
    )


async def models(request: Request) -> Response:
    settings: Settings = request.state.settings
    return JSONResponse(
        {
            "object": "list",
            "data": [{"id": settings.openai_model, "object": "model", "created": 0, "owned_by": "gateway"}],
        }
    )
