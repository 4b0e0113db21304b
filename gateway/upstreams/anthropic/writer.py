"""Anthropic's event stream, written: what a chat-completions upstream said, as the events of a
Messages stream, for a `/v1/messages` client. Pure: each method returns the bytes to send.

The message starts with `message_start` (the input tokens as estimated; the real count comes in
`message_delta`, which overwrites it) and a `ping`. Its content is blocks, one after the other,
each with exactly one `content_block_start` and one `content_block_stop`, their `index` counting
from 0: reasoning is a `thinking` block, text a `text` block, each tool call a `tool_use` block
whose input comes only as `input_json_delta` (Claude Code reads it from nowhere else). Reasoning
from a chat upstream has no signature, so its block ends without a `signature_delta` (the SDK then
keeps `signature: ""`); a signed whole block gives its signature.

OpenAI's tool-call fragments say their call by `index`, and some upstreams interleave the
fragments of parallel calls. One call is streamed as it comes; the fragments of any other are kept
until it is over, which is when another call's fragment arrives while its arguments are whole
JSON, or when anything else (text, the finish) comes. Then the kept calls follow, one whole block
each, in index order, so blocks never interleave.

The finish reason is held until the usage arrives: `message_delta` carries both. After an error
event, nothing more is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.upstreams.anthropic.errors import error_type_of
from gateway.upstreams.anthropic.terms import anthropic_usage, as_dict, stop_reason, tool_id
from gateway.upstreams.llm import Usage

_PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def event(name: str, data: dict[str, Any]) -> bytes:
    """One event, framed as Anthropic frames them."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


@dataclass
class _Call:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class EventWriter:
    """One message's events: the open block, the tool calls kept, and how the message ended."""

    def __init__(self, message_id: str, model: str) -> None:
        self.message_id = message_id
        self.model = model
        self._started = False
        self._index = -1  # the last block's index
        self._open: str | None = None  # the open block's type
        self._thought = False  # whether the open thinking block has had text
        self._current: int | None = None  # the OpenAI index of the call whose block is open
        self._arguments: list[str] = []  # that call's arguments so far
        self._kept: dict[int, _Call] = {}  # calls not yet written, by OpenAI index
        self._over: set[int] = set()  # calls written and closed
        self._text_head = b""  # a text delta's bytes before its text, for the open block
        self._stop_reason = "end_turn"
        self._delta_sent = False
        self._ended = False

    def start(self, input_tokens: int) -> bytes:
        """`message_start` with the input tokens as estimated, then a ping."""
        if self._started:
            return b""
        self._started = True
        usage = {
            "input_tokens": input_tokens,
            "output_tokens": 1,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        message: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        return event("message_start", {"type": "message_start", "message": message}) + _PING

    def text(self, text: str) -> bytes:
        if not text or self._ended:
            return b""
        out = b""
        if self._open != "text":
            out = self._begin({"type": "text", "text": ""})
            self._text_head = (
                b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
                b'"delta":{"type":"text_delta","text":' % self._index
            )
        return out + self._text_head + orjson.dumps(text) + b"}}\n\n"

    def reasoning(self, text: str, thinking: tuple[dict[str, Any], ...] = ()) -> bytes:
        """Reasoning text as thinking deltas; whole blocks (`Chunk.thinking`) end the thinking block
        with their signature, or are written whole when their text did not come as deltas."""
        if self._ended:
            return b""
        out = b""
        if text:
            if self._open != "thinking":
                out += self._begin({"type": "thinking", "thinking": "", "signature": ""})
            out += self._delta({"type": "thinking_delta", "thinking": text})
            self._thought = True
        for block in thinking:
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "thinking":
                if self._open != "thinking":
                    out += self._begin({"type": "thinking", "thinking": "", "signature": ""})
                whole = block.get("thinking")
                if not self._thought and isinstance(whole, str) and whole:
                    out += self._delta({"type": "thinking_delta", "thinking": whole})
                signature = block.get("signature")
                if isinstance(signature, str) and signature:
                    out += self._delta({"type": "signature_delta", "signature": signature})
                out += self._close()
            elif kind == "redacted_thinking":
                out += self._begin({"type": "redacted_thinking", "data": block.get("data")}) + self._close()
        return out

    def calls(self, fragments: tuple[Any, ...]) -> bytes:
        """OpenAI's tool-call fragments, as tool_use blocks one at a time."""
        if self._ended:
            return b""
        out = b""
        for fragment in fragments:
            if not isinstance(fragment, dict):
                continue
            index = fragment.get("index", 0)
            function = as_dict(fragment.get("function"))
            arguments = function.get("arguments")
            arguments = arguments if isinstance(arguments, str) else ""
            if index in self._over:
                continue  # a call already closed: its fragment has no block left to go in
            if index == self._current:
                if arguments:
                    self._arguments.append(arguments)
                    out += self._delta({"type": "input_json_delta", "partial_json": arguments})
                continue
            call = self._kept.setdefault(index, _Call())
            if call.id is None and isinstance(fragment.get("id"), str):
                call.id = fragment["id"]
            if not call.name and isinstance(function.get("name"), str):
                call.name = function["name"]
            if arguments:
                call.arguments.append(arguments)
            if self._current is not None and _whole("".join(self._arguments)):
                out += self._close()
            if self._current is None:
                out += self._close() + self._next_call()
        return out

    def finish(self, finish_reason: str) -> bytes:
        """The end of the content: every block closed, every kept call written; the stop reason kept
        for `message_delta`."""
        if self._ended:
            return b""
        self._stop_reason = stop_reason(finish_reason)
        return self._settle()

    def usage(self, usage: Usage) -> bytes:
        """`message_delta`: the stop reason, and the usage (cache reads and writes apart)."""
        if self._ended or self._delta_sent:
            return b""
        out = self._start_if_needed() + self._settle()
        self._delta_sent = True
        delta = {"stop_reason": self._stop_reason, "stop_sequence": None}
        return out + event("message_delta", {"type": "message_delta", "delta": delta, "usage": anthropic_usage(usage)})

    def stop(self) -> bytes:
        """`message_stop` (after a `message_delta` of no usage, if none was sent)."""
        if self._ended:
            return b""
        out = self._settle()
        if not self._delta_sent:
            out += self.usage(Usage(0, 0))
        self._ended = True
        return out + event("message_stop", {"type": "message_stop"})

    def error(self, type_: str, message: str) -> bytes:
        """An `error` event, Anthropic's type for the gateway's error type; the open block closed
        first, the calls not written dropped. Nothing is written after it."""
        if self._ended:
            return b""
        out = self._start_if_needed() + self._close()
        self._ended = True
        error = {"type": error_type_of(type_), "message": message}
        return out + event("error", {"type": "error", "error": error})

    def _start_if_needed(self) -> bytes:
        return b"" if self._started else self.start(0)

    def _begin(self, block: dict[str, Any]) -> bytes:
        """Closes the open block (and writes the calls kept, when a call's block is what closes)
        and opens another."""
        out = self._start_if_needed() + self._settle()
        self._index += 1
        self._open = block["type"]
        self._thought = False
        start = {"type": "content_block_start", "index": self._index, "content_block": block}
        return out + event("content_block_start", start)

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return event("content_block_delta", {"type": "content_block_delta", "index": self._index, "delta": delta})

    def _close(self) -> bytes:
        """The open block's stop (a call's block gets `{}` first if it had no arguments)."""
        if self._open is None:
            return b""
        out = b""
        if self._current is not None:
            if not self._arguments:
                out = self._delta({"type": "input_json_delta", "partial_json": "{}"})
            self._over.add(self._current)
            self._current, self._arguments = None, []
        self._open = None
        return out + event("content_block_stop", {"type": "content_block_stop", "index": self._index})

    def _settle(self) -> bytes:
        """The open block closed and every kept call written: what comes next is not a call."""
        out = self._close()
        while self._kept:
            out += self._next_call() + self._close()
        return out

    def _next_call(self) -> bytes:
        """The lowest kept call's block opened, with its arguments so far."""
        if not self._kept:
            return b""
        out = self._start_if_needed()
        index = min(self._kept)
        call = self._kept.pop(index)
        self._index += 1
        self._open, self._current = "tool_use", index
        self._arguments = call.arguments
        # A call that came without an id gets one of the message's, so a client can answer it.
        given = call.id if call.id is not None else f"{self.message_id}_{index}"
        block = {"type": "tool_use", "id": tool_id(given), "name": call.name, "input": {}}
        start = {"type": "content_block_start", "index": self._index, "content_block": block}
        out += event("content_block_start", start)
        if call.arguments:
            out += self._delta({"type": "input_json_delta", "partial_json": "".join(call.arguments)})
        return out


def _whole(arguments: str) -> bool:
    """Whether a call's arguments are whole JSON, so that no fragment of it can follow."""
    try:
        orjson.loads(arguments)
    except ValueError:
        return False
    return bool(arguments)
