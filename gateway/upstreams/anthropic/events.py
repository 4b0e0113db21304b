"""Anthropic's event stream, read: lines of bytes to `Chunk`s, OpenAI's chat-completions words. Pure.

`EventReader.feed` keeps `openai_sse.merge`'s contract: the lines of one network read (split on
bytes by the caller, so a UTF-8 character split across reads arrives whole) become one Chunk,
whether the stream is done, and the failure of a bad line, to be raised only after the text
before it has been relayed. An event is read when the blank line after it comes, as the SSE
specification and Anthropic's SDK read it; `message_stop` and `error` end the stream, so they are
read as soon as their data arrives. `ping`, comments and event types the reader does not know are
skipped.

What becomes what: text deltas are `text`; thinking deltas `reasoning`; a thinking block, once it
stops, is one whole block (its text and signature) in `thinking`, and a redacted one as it
starts. A `tool_use` block is OpenAI's tool-call fragments: its start (id, name, empty arguments),
then each non-empty `input_json_delta`, and `"{}"` at its stop when its arguments stayed empty;
OpenAI's fragment `index` counts the tool_use blocks from 0, not Anthropic's block index. The
message's stop reason is the finish reason and its usage (message_start's input side, overwritten
by message_delta's cumulative counts) comes with it, and with the model message_start named.

With `raw`, each Chunk also carries the events it read exactly as they came (their lines, the
blank line after them, CRLF if that was the framing, comments and pings too), for a client of
Anthropic's API that is relayed them: only whole events, so that nothing of the gateway's own
ever lands inside one. The events of a stream that ends well add up to the stream, byte for byte.
An `error` event is not relayed: it is the failure returned.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.upstreams.anthropic.terms import finish_reason, usage_of
from gateway.upstreams.llm import Chunk, StreamFailed


def _malformed(what: str) -> StreamFailed:
    return StreamFailed("upstream_error", f"the upstream sent {what}")


class EventReader:
    """One Anthropic stream's state across reads: the event being read, the message's model and
    input usage, the tool_use blocks counted, the open block and the thinking it accumulates."""

    def __init__(self, raw: bool = False) -> None:
        self.raw = raw
        self.message_id: str | None = None
        self.model: str | None = None
        self._name: bytes | None = None  # the event being read: its name, data and lines
        self._data: list[bytes] = []
        self._lines: list[bytes] = []
        self._usage: dict[str, Any] = {}
        self._calls = -1  # the OpenAI index of the last tool_use block
        self._block: str | None = None  # the open block's type
        self._arguments = False  # whether the open tool_use block had arguments
        self._thinking: list[str] = []
        self._signature = ""
        self._done = False
        # What the events of one feed add up to.
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._fragments: list[dict[str, Any]] = []
        self._blocks: list[dict[str, Any]] = []
        self._finish: str | None = None
        self._ended = False  # message_delta came: the usage goes with this feed's Chunk

    def feed(self, lines: list[bytes]) -> tuple[Chunk | None, bool, StreamFailed | None]:
        """The events of one read's lines as one Chunk, whether `message_stop` came, and a failure."""
        relayed: list[bytes] = []
        failure: StreamFailed | None = None
        for line in lines:
            if self._done:
                break
            if not line or line == b"\r":  # an event ends
                if self._lines:
                    if self.raw:
                        relayed.extend(self._lines)
                        relayed.append(line)
                    self._lines = []
                if self._name is not None:
                    failure = self._dispatch(self._name, self._data)
                    self._name, self._data = None, []
                    if failure is not None:
                        break
                continue
            self._lines.append(line)
            if line.startswith(b"data:"):
                if self._name is None:
                    failure = _malformed("a data line outside an event")
                    break
                data = line[5:]
                self._data.append(data[1:] if data.startswith(b" ") else data)
                if self._name in (b"message_stop", b"error"):  # the end: read at once
                    failure = self._dispatch(self._name, self._data)
                    if self.raw and failure is None:
                        relayed.extend(self._lines)
                        relayed.append(b"\r" if line.endswith(b"\r") else b"")  # its blank line, which may come later
                    self._name, self._data, self._lines = None, [], []
                    if failure is not None:
                        break
            elif line.startswith(b"event:"):
                self._name = line[6:].strip()
            elif not line.startswith((b":", b"id:", b"retry:")):
                failure = _malformed("a malformed event stream")
                break
        return self._chunk(b"\n".join(relayed) + b"\n" if relayed else b""), self._done, failure

    def _chunk(self, raw: bytes) -> Chunk | None:
        """What this feed's events add up to, and the reset for the next feed."""
        if not (self._text or self._reasoning or self._fragments or self._blocks or self._ended or raw):
            return None
        usage = model = None
        if self._ended:
            usage, model = usage_of(self._usage), self.model
        chunk = Chunk(
            "".join(self._text),
            self._finish,
            usage,
            tuple(self._fragments),
            raw,
            model,
            "".join(self._reasoning),
            tuple(self._blocks),
        )
        self._text, self._reasoning, self._fragments, self._blocks = [], [], [], []
        self._finish, self._ended = None, False
        return chunk

    def _dispatch(self, name: bytes, data: list[bytes]) -> StreamFailed | None:
        if name == b"ping":
            return None
        try:
            event = orjson.loads(data[0] if len(data) == 1 else b"\n".join(data))
        except ValueError:  # orjson.JSONDecodeError is one
            return _malformed("a data line that is not JSON")
        if not isinstance(event, dict):
            return _malformed("an event that is not an object")
        return self.take(event)

    def take(self, event: dict[str, Any]) -> StreamFailed | None:
        """One event, already parsed (Bedrock's stream carries them in its own framing): its part
        of the Chunk the next `chunk()` or `feed()` returns, or the failure it reports."""
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event.get("delta")
            if not isinstance(delta, dict):
                return None
            what = delta.get("type")
            if what == "text_delta":
                text = delta.get("text")
                if isinstance(text, str) and text:
                    self._text.append(text)
            elif what == "input_json_delta":
                part = delta.get("partial_json")
                if self._block == "tool_use" and isinstance(part, str) and part:
                    self._fragments.append({"index": self._calls, "function": {"arguments": part}})
                    self._arguments = True
            elif what == "thinking_delta":
                thought = delta.get("thinking")
                if isinstance(thought, str) and thought:
                    self._reasoning.append(thought)
                    self._thinking.append(thought)
            elif what == "signature_delta":
                signature = delta.get("signature")
                if isinstance(signature, str):
                    self._signature = signature
        elif kind == "content_block_start":
            self._start(event.get("content_block"))
        elif kind == "content_block_stop":
            self._stop()
        elif kind == "message_start":
            message = event.get("message")
            if isinstance(message, dict):
                self.message_id = message.get("id") if isinstance(message.get("id"), str) else None
                self.model = message.get("model") if isinstance(message.get("model"), str) else None
                if isinstance(message.get("usage"), dict):
                    self._usage = dict(message["usage"])
        elif kind == "message_delta":
            delta = event.get("delta")
            if isinstance(delta, dict):
                self._finish = finish_reason(delta.get("stop_reason")) or self._finish
            usage = event.get("usage")
            if isinstance(usage, dict):  # cumulative: each count given overwrites message_start's
                self._usage.update((key, value) for key, value in usage.items() if value is not None)
            self._ended = True
        elif kind == "message_stop":
            self._done = True
        elif kind == "error":
            error = event.get("error")
            error = error if isinstance(error, dict) else {}
            what, message = error.get("type") or "error", error.get("message") or "no message"
            return StreamFailed("upstream_error", f"the upstream reported an error: {what}: {message}")
        return None

    def chunk(self) -> Chunk | None:
        """What the events taken since the last Chunk add up to (for `take`'s callers)."""
        return self._chunk(b"")

    @property
    def done(self) -> bool:
        return self._done

    def _start(self, block: Any) -> None:
        if not isinstance(block, dict):
            return
        kind = block.get("type")
        self._block = kind if isinstance(kind, str) else None
        if kind == "text":
            text = block.get("text")
            if isinstance(text, str) and text:
                self._text.append(text)
        elif kind == "tool_use":
            self._calls += 1
            self._arguments = False
            name = block.get("name")
            self._fragments.append(
                {
                    "index": self._calls,
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": name, "arguments": ""},
                }
            )
        elif kind == "thinking":
            thought = block.get("thinking")
            self._thinking = [thought] if isinstance(thought, str) and thought else []
            self._reasoning.extend(self._thinking)
            signature = block.get("signature")
            self._signature = signature if isinstance(signature, str) else ""
        elif kind == "redacted_thinking":
            self._blocks.append({"type": "redacted_thinking", "data": block.get("data")})

    def _stop(self) -> None:
        if self._block == "tool_use" and not self._arguments:
            self._fragments.append({"index": self._calls, "function": {"arguments": "{}"}})
        elif self._block == "thinking":
            thinking = {"type": "thinking", "thinking": "".join(self._thinking), "signature": self._signature}
            self._blocks.append(thinking)
            self._thinking, self._signature = [], ""
        self._block = None
