"""Pure encoders: how one stream's events become bytes in each format.

`text` sends the text alone. `openai` sends one `chat.completion.chunk` JSON object a line (NDJSON);
`sse` the same objects as Server-Sent Events with `id: <record_id>:<offset>` (offset: characters of
the answer sent so far) and `data: [DONE]` last; `chat.completions` (`/v1`) OpenAI's own SSE,
without ids: the upstream's own events when it speaks chat completions, else the gateway's, with
tool calls and reasoning too. SSE events are encoded by sse-starlette's `ServerSentEvent`.

Chunk objects are shaped as OpenAI sends them with `stream_options.include_usage`: the same `id`
on every chunk, `role` in the first delta, `"usage": null` until the last chunk, which carries
usage and empty `choices`. The constant parts of a chunk are encoded once per stream; only the
text is escaped per chunk.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import Any

import orjson
from sse_starlette import ServerSentEvent

from gateway.upstreams.llm import Usage

FORMATS = ("text", "openai", "sse")
SEP = "\n"  # sse-starlette's default is \r\n; \n alone is what OpenAI sends

SSE_DONE = ServerSentEvent("[DONE]", sep=SEP).encode()
SSE_KEEPALIVE = ServerSentEvent(comment="keep-alive", sep=SEP).encode()


def completion_id(record_id_hex: str) -> str:
    """OpenAI's id for the completion of a record, the same in every chunk and answer."""
    return f"chatcmpl-{record_id_hex}"


def error_chunk(type_: str, message: str) -> str:
    return json.dumps({"error": {"type": type_, "message": message}}, separators=(",", ":"), ensure_ascii=False)


class ChunkEncoder:
    """Encodes one stream's `chat.completion.chunk` objects as compact JSON text."""

    def __init__(self, completion_id: str, model: str, created: int) -> None:
        self._head = (  # encode_basestring: what json.dumps(ensure_ascii=False) does for a str, ~5x faster
            f'{{"id":{encode_basestring(completion_id)},"object":"chat.completion.chunk",'
            f'"created":{created},"model":{encode_basestring(model)},"choices":'
        )

    def role(self) -> str:
        return (
            self._head + '[{"index":0,"delta":{"role":"assistant","content":""},'
            '"logprobs":null,"finish_reason":null}],"usage":null}'
        )

    def content(self, text: str) -> str:
        return (
            self._head
            + '[{"index":0,"delta":{"content":'
            + encode_basestring(text)
            + '},"logprobs":null,"finish_reason":null}],"usage":null}'
        )

    def finish(self, reason: str) -> str:
        return (
            self._head
            + '[{"index":0,"delta":{},"logprobs":null,"finish_reason":'
            + encode_basestring(reason)
            + '}],"usage":null}'
        )

    def usage(self, prompt_tokens: int, completion_tokens: int) -> str:
        total = prompt_tokens + completion_tokens
        return (
            self._head + f'[],"usage":{{"prompt_tokens":{prompt_tokens:d},'
            f'"completion_tokens":{completion_tokens:d},"total_tokens":{total:d}}}}}'
        )

    def delta(self, delta: dict[str, Any]) -> str:
        """A chunk of any other delta (tool calls, reasoning), as OpenAI shapes it."""
        body = orjson.dumps({"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}).decode()
        return self._head + "[" + body + '],"usage":null}'

    def usage_details(self, usage: Usage) -> str:
        """The usage chunk with OpenAI's details, for what the upstream reported of them."""
        body: dict[str, Any] = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
        }
        prompt = {"cached_tokens": usage.cached_tokens, "cache_creation_tokens": usage.cache_creation_tokens}
        if any(value is not None for value in prompt.values()):
            body["prompt_tokens_details"] = {name: value for name, value in prompt.items() if value is not None}
        if usage.reasoning_tokens is not None:
            body["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
        return self._head + '[],"usage":' + orjson.dumps(body).decode() + "}"


class TextFrames:
    """`text`: the answer's text as it comes, and nothing else (a failure is in the record only)."""

    content_type = "text/plain; charset=utf-8"
    passthrough = False  # whether the upstream's own events are relayed (`Chunk.raw`)

    def role(self) -> bytes:
        return b""

    def content(self, text: str, offset: int) -> bytes:
        return text.encode()

    def calls(self, fragments: tuple[object, ...], offset: int) -> bytes:
        """Tool-call fragments: only formats of their own tell them (a /stream request has no tools)."""
        return b""

    def reasoning(self, text: str, thinking: tuple[dict[str, Any], ...], offset: int) -> bytes:
        """The model's reasoning: only formats of their own tell it (it is in /stream's record)."""
        return b""

    def relay(self, raw: bytes, offset: int) -> bytes:
        """The upstream's own events as a passthrough format sends them: as they came, unless the
        format has something of its own to change in them (a Responses upstream's ids)."""
        return raw

    def finish(self, reason: str, offset: int) -> bytes:
        return b""

    def usage(self, usage: Usage, offset: int) -> bytes:
        return b""

    def error(self, type_: str, message: str, offset: int) -> bytes:
        return b""

    def done(self) -> bytes:
        return b""


class NdjsonFrames(TextFrames):
    """`openai`: one chunk object a line."""

    content_type = "application/x-ndjson"

    def __init__(self, encoder: ChunkEncoder) -> None:
        self.encoder = encoder

    def frame(self, data: str, offset: int) -> bytes:
        return (data + "\n").encode()

    def role(self) -> bytes:
        return self.frame(self.encoder.role(), 0)

    def content(self, text: str, offset: int) -> bytes:
        return self.frame(self.encoder.content(text), offset)

    def finish(self, reason: str, offset: int) -> bytes:
        return self.frame(self.encoder.finish(reason), offset)

    def usage(self, usage: Usage, offset: int) -> bytes:
        return self.frame(self.encoder.usage(usage.prompt_tokens, usage.completion_tokens), offset)

    def error(self, type_: str, message: str, offset: int) -> bytes:
        return self.frame(error_chunk(type_, message), offset)


class SseFrames(NdjsonFrames):
    """`sse`: each chunk an event whose id is `<record_id>:<offset>`, so a reconnecting
    EventSource says where to resume; `[DONE]` last."""

    content_type = "text/event-stream; charset=utf-8"

    def __init__(self, encoder: ChunkEncoder, event_prefix: str) -> None:
        super().__init__(encoder)
        self.event_prefix = event_prefix

    def frame(self, data: str, offset: int) -> bytes:
        return ServerSentEvent(data, id=self.event_prefix + str(offset), sep=SEP).encode()

    def done(self) -> bytes:
        return SSE_DONE


class ChatSseFrames(SseFrames):
    """`/v1/chat/completions`: the upstream's own events, relayed as they came (tool calls,
    refusals, reasoning, logprobs: whatever they hold); the gateway's frames only for its error
    ending and for a usage it had to estimate."""

    passthrough = True

    def __init__(self, encoder: ChunkEncoder) -> None:
        super().__init__(encoder, "")

    def frame(self, data: str, offset: int) -> bytes:
        return ServerSentEvent(data, sep=SEP).encode()

    def role(self) -> bytes:
        return b""

    def finish(self, reason: str, offset: int) -> bytes:
        return b""


class ChatFrames(SseFrames):
    """`/v1/chat/completions` over an upstream of another API: the gateway's own chunks, as OpenAI
    sends them, for everything the upstream's answer holds: text, tool calls, reasoning (as
    `reasoning_content`, and signed thinking blocks as `thinking_blocks`), the finish, and the
    usage with its details."""

    def __init__(self, encoder: ChunkEncoder) -> None:
        super().__init__(encoder, "")

    def frame(self, data: str, offset: int) -> bytes:
        return ServerSentEvent(data, sep=SEP).encode()

    def calls(self, fragments: tuple[object, ...], offset: int) -> bytes:
        return self.frame(self.encoder.delta({"tool_calls": list(fragments)}), offset)

    def reasoning(self, text: str, thinking: tuple[dict[str, Any], ...], offset: int) -> bytes:
        delta: dict[str, Any] = {"reasoning_content": text} if text else {}
        if thinking:
            delta["thinking_blocks"] = list(thinking)
        return self.frame(self.encoder.delta(delta), offset)

    def usage(self, usage: Usage, offset: int) -> bytes:
        return self.frame(self.encoder.usage_details(usage), offset)


Frames = TextFrames  # every format's frames have TextFrames' methods


def frames_for(
    stream_format: str, record_id: str, record_hex: str, model: str, created: int, relayed: bool = True
) -> Frames:
    """A format's frames; for `chat.completions`, `relayed` says whether the upstream's own events
    are OpenAI's and go as they came."""
    if stream_format == "text":
        return TextFrames()
    encoder = ChunkEncoder(completion_id(record_hex), model, created)
    if stream_format == "openai":
        return NdjsonFrames(encoder)
    if stream_format == "sse":
        return SseFrames(encoder, record_id + ":")
    return ChatSseFrames(encoder) if relayed else ChatFrames(encoder)
