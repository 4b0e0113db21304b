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
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.errors import GatewayError, Invalid, UpstreamError
from gateway.inputs import check_text, parse_int, read_json
from gateway.llm import StreamFailed, Usage, estimate_prompt_tokens, estimate_tokens
from gateway.settings import Settings
from gateway.store import utcnow
from gateway.streaming import SHUTDOWN_CUT, Relay, finalise, open_exchange

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


def _number(value: Any, name: str, low: float, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise Invalid(f"{name} must be a number between {low:g} and {high:g}")
    return float(value)


def _stop(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        check_text(value, "stop")
        return [value]
    if isinstance(value, list) and len(value) <= 4 and all(isinstance(s, str) and s for s in value):
        for index, stop in enumerate(value):
            check_text(stop, f"stop[{index}]")
        return list(value)
    raise Invalid("stop must be a string or a list of up to 4 strings")


async def chat_completions(request: Request) -> Response:
    started = time.perf_counter()
    settings: Settings = request.state.settings
    body = await read_json(request, settings.max_body_bytes)
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    messages = parse_messages(body.get("messages"), settings.max_prompt_chars)
    model = body.get("model")
    if model is not None and (not isinstance(model, str) or not model.strip() or len(model) > 200):
        raise Invalid("model must be a non-blank string of at most 200 characters")
    if model is not None:
        check_text(model, "model")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise Invalid("stream must be true or false")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise Invalid("stream_options must be an object")
    if body.get("n", 1) != 1:
        raise Invalid("n: only one choice is supported")
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    max_tokens = parse_int(limit, "max_tokens", 1, 1_000_000) if limit is not None else None
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise Invalid("user must be a string")
    if user:
        check_text(user, "user")
    prompt = next(m["content"] for m in reversed(messages) if m["role"] == "user" and m["content"].strip())
    exchange = await open_exchange(
        request,
        started=started,
        prompt=prompt,
        messages=messages,
        conversation_id=uuid.uuid4(),
        model=model,
        stream_format="chat.completions",
        system=next((m["content"] for m in messages if m["role"] == "system"), None),
        temperature=_number(body.get("temperature"), "temperature", 0, 2),
        max_tokens=max_tokens,
        stop=_stop(body.get("stop")),
        user=user,
        include_usage=bool(options.get("include_usage", False)),
        keep_messages=True,
    )
    if stream:
        state = request.state
        return Relay(exchange, state.store, state.streams, settings)
    return await _complete(request, exchange)


async def _complete(request: Request, exchange: Any) -> Response:
    """stream: false — the whole answer in one chat.completion object (or an error status,
    since nothing has been sent yet)."""
    store = request.state.store
    texts: list[str] = []
    finish: str | None = None
    usage: Usage | None = None
    first: float | None = None
    error: GatewayError | None = None

    def ending(failure: str | None) -> dict[str, Any]:
        """The record's last write: the text so far, `error` with `failure` or `complete`."""
        return {
            "status": "error" if failure else "complete",
            "response": "".join(texts),
            "error": failure,
            "completed_at": utcnow(),
            "ttft_ms": round((first - exchange.started) * 1000, 3) if first else None,
            "duration_ms": round((time.perf_counter() - exchange.started) * 1000, 3),
        }

    try:
        async for chunk in exchange.chunks:
            if chunk.text:
                first = first or time.perf_counter()
                texts.append(chunk.text)
            finish = chunk.finish_reason or finish
            usage = chunk.usage or usage
    except StreamFailed as exc:
        error = UpstreamError(exc.message)
    except asyncio.CancelledError:  # a shutdown: the record keeps the text; the client gets a 503
        await request.state.streams.settle(finalise(store, exchange.record_id, ending(SHUTDOWN_CUT)))
        raise
    finally:
        await exchange.chunks.aclose()
    text = "".join(texts)
    if error is None and finish is None:
        error = UpstreamError("the upstream closed the stream before it finished")
    if usage is None:
        usage = Usage(estimate_prompt_tokens(exchange.completion.messages), estimate_tokens(text), estimated=True)
    values = ending(error.message if error else None)
    values.update(
        prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens, usage_estimated=usage.estimated
    )
    await finalise(store, exchange.record_id, values)
    if error is not None:
        raise error
    return JSONResponse(
        {
            "id": f"chatcmpl-{exchange.record_id.hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": exchange.completion.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish,
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
