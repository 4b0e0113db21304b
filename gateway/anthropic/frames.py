"""A `/v1/messages` stream's frames, in the interface the relay drives (streams/formats.py): an
Anthropic upstream's own events relayed as they came (`RelayedFrames`), or the events the gateway
tells for any other upstream's chunks (`MessageFrames`, over upstreams/anthropic/writer.py).

Either way a failure the gateway ends the stream with is Anthropic's `error` event, its type the
one an Anthropic client expects for the gateway's error."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.streams.formats import TextFrames
from gateway.upstreams.anthropic.errors import error_type_of
from gateway.upstreams.anthropic.writer import EventWriter
from gateway.upstreams.llm import Usage


def error_event(type_: str, message: str) -> bytes:
    data = orjson.dumps({"type": "error", "error": {"type": error_type_of(type_), "message": message}})
    return b"event: error\ndata: " + data + b"\n\n"


class RelayedFrames(TextFrames):
    """An Anthropic upstream's events, as they came (`Chunk.raw`): the gateway adds only its own
    error event when it ends the stream."""

    content_type = "text/event-stream; charset=utf-8"
    passthrough = True

    def error(self, type_: str, message: str, offset: int) -> bytes:
        return error_event(type_, message)


class MessageFrames(TextFrames):
    """The events of a message the gateway tells from another API's chunks."""

    content_type = "text/event-stream; charset=utf-8"

    def __init__(self, writer: EventWriter, input_tokens: int) -> None:
        self.writer = writer
        self.input_tokens = input_tokens  # an estimate: the real count comes with the usage, at the end

    def role(self) -> bytes:
        return self.writer.start(self.input_tokens)

    def content(self, text: str, offset: int) -> bytes:
        return self.writer.text(text)

    def reasoning(self, text: str, thinking: tuple[dict[str, Any], ...], offset: int) -> bytes:
        return self.writer.reasoning(text, thinking)

    def calls(self, fragments: tuple[object, ...], offset: int) -> bytes:
        return self.writer.calls(fragments)

    def finish(self, reason: str, offset: int) -> bytes:
        return self.writer.finish(reason)

    def usage(self, usage: Usage, offset: int) -> bytes:
        return self.writer.usage(usage)

    def error(self, type_: str, message: str, offset: int) -> bytes:
        return self.writer.error(type_, message)

    def done(self) -> bytes:
        return self.writer.stop()
