"""Pure encoders: how one stream's events become bytes in each format.

`text` sends the text alone. `openai` sends one `chat.completion.chunk` JSON object a line (NDJSON);
`sse` the same objects as Server-Sent Events with `id: <record_id>:<offset>` (offset: characters of
the answer sent so far) and `data: [DONE]` last; `chat.completions` (`/v1`) OpenAI's own SSE,
without ids. SSE events are encoded by sse-starlette's `ServerSentEvent`.

Chunk objects are shaped as OpenAI sends them with `stream_options.include_usage`: the same `id`
on every chunk, `role` in the first delta, `"usage": null` until the last chunk, which carries
usage and empty `choices`. The constant parts of a chunk are encoded once per stream; only the
text is escaped per chunk.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring

from sse_starlette import ServerSentEvent

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

    def finish(self, reason: str, offset: int) -> bytes:
        return b""

    def usage(self, prompt_tokens: int, completion_tokens: int, offset: int) -> bytes:
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

    def usage(self, prompt_tokens: int, completion_tokens: int, offset: int) -> bytes:
        return self.frame(self.encoder.usage(prompt_tokens, completion_tokens), offset)

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


Frames = TextFrames  # every format's frames have TextFrames' methods


def frames_for(stream_format: str, record_id: str, record_hex: str, model: str, created: int) -> Frames:
    if stream_format == "text":
        return TextFrames()
    encoder = ChunkEncoder(completion_id(record_hex), model, created)
    if stream_format == "openai":
        return NdjsonFrames(encoder)
    if stream_format == "sse":
        return SseFrames(encoder, record_id + ":")
    return ChatSseFrames(encoder)
