"""Anthropic's event stream read into chunks: the same chunks and the same bytes however the stream
is cut into reads (a line at a time, all at once, inside a UTF-8 character), CRLF framing, text,
thinking with its signature, tool calls counted from 0, usage with its cache counts, the failures
of an error event and of malformed lines, and the SDK's own reading of the same bytes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from gateway.upstreams.anthropic.events import EventReader
from gateway.upstreams.llm import Chunk, StreamFailed, Usage
from tests.upstreams.anthropic.sdk import final_message


def sse(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}\n\n".encode()


def block(index: int, content: dict[str, Any]) -> bytes:
    return sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": content})


def delta(index: int, value: dict[str, Any]) -> bytes:
    return sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": value})


def stop(index: int) -> bytes:
    return sse("content_block_stop", {"type": "content_block_stop", "index": index})


def text(index: int, value: str) -> bytes:
    return delta(index, {"type": "text_delta", "text": value})


def arguments(index: int, value: str) -> bytes:
    return delta(index, {"type": "input_json_delta", "partial_json": value})


def start(usage: dict[str, int]) -> bytes:
    message: dict[str, Any] = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
                               "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage}  # fmt: skip
    return sse("message_start", {"type": "message_start", "message": message})


def end(reason: str, usage: dict[str, Any]) -> bytes:
    message_delta = {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None}, "usage": usage}
    return sse("message_delta", message_delta) + sse("message_stop", {"type": "message_stop"})


PING = b'event: ping\ndata: {"type": "ping"}\n\n'
THOUGHT = {"type": "thinking", "thinking": "Let me think about 日本語.", "signature": "EqQBsig=="}
# Thinking, text, two tool calls (the second without arguments), a comment and an event of tomorrow.
STREAM = b"".join(
    [
        start({"input_tokens": 10, "cache_creation_input_tokens": 2, "cache_read_input_tokens": 5, "output_tokens": 1}),
        block(0, {"type": "thinking", "thinking": "", "signature": ""}),
        PING,
        delta(0, {"type": "thinking_delta", "thinking": "Let me think"}),
        delta(0, {"type": "thinking_delta", "thinking": " about 日本語."}),
        delta(0, {"type": "signature_delta", "signature": "EqQBsig=="}),
        stop(0),
        block(1, {"type": "text", "text": ""}),
        text(1, "héllo "),
        text(1, "wörld 🙂"),
        stop(1),
        b": a comment\n\n",
        sse("future_event", {"type": "future_event", "x": 1}),
        block(2, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}),
        arguments(2, ""),
        arguments(2, '{"city": "Pa'),
        arguments(2, 'ris"}'),
        stop(2),
        block(3, {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}}),
        arguments(3, ""),
        stop(3),
        end("tool_use", {"output_tokens": 42}),
    ]
)
FRAGMENTS = [
    {"index": 0, "id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
    {"index": 0, "function": {"arguments": '{"city": "Pa'}},
    {"index": 0, "function": {"arguments": 'ris"}'}},
    {"index": 1, "id": "toolu_2", "type": "function", "function": {"name": "now", "arguments": ""}},
    {"index": 1, "function": {"arguments": "{}"}},
]


@dataclass
class Read:
    """What a stream's chunks add up to."""

    text: str = ""
    reasoning: str = ""
    fragments: list[Any] = field(default_factory=list)
    thinking: list[dict[str, Any]] = field(default_factory=list)
    finish: str | None = None
    usage: Usage | None = None
    model: str | None = None
    raw: bytes = b""
    done: bool = False
    failure: str | None = None
    chunks: list[Chunk] = field(default_factory=list)

    def add(self, chunk: Chunk | None, done: bool, failure: StreamFailed | None) -> None:
        if chunk is not None:
            self.chunks.append(chunk)
            self.text += chunk.text
            self.reasoning += chunk.reasoning
            self.fragments += chunk.tool_calls
            self.thinking += chunk.thinking
            self.finish = chunk.finish_reason or self.finish
            self.usage = chunk.usage or self.usage
            self.model = chunk.model or self.model
            self.raw += chunk.raw
        self.done = self.done or done
        self.failure = failure.message if failure is not None else self.failure

    def totals(self) -> tuple[Any, ...]:
        return (self.text, self.reasoning, self.fragments, self.thinking, self.finish, self.usage, self.model,
                self.done, self.failure)  # fmt: skip


def read(data: bytes, cuts: list[int], raw: bool = True) -> Read:
    """The stream read as the upstream client reads it: reads cut at `cuts`, split into lines on bytes."""
    reader, result, pending = EventReader(raw), Read(), b""
    for begin, finish in zip([0, *cuts], [*cuts, len(data)], strict=True):
        pending += data[begin:finish]
        if b"\n" not in data[begin:finish]:
            continue
        *lines, pending = pending.split(b"\n")
        result.add(*reader.feed(lines))
        if result.done or result.failure:
            return result
    if pending.strip():
        result.add(*reader.feed([pending]))
    return result


def line_ends(data: bytes) -> list[int]:
    return [index + 1 for index, byte in enumerate(data) if byte == ord("\n")]


def test_a_whole_stream_read_at_once_is_its_text_thinking_calls_finish_and_usage() -> None:
    result = read(STREAM, [])
    assert len(result.chunks) == 1
    assert result.text == "héllo wörld 🙂"
    assert result.reasoning == "Let me think about 日本語."
    assert result.thinking == [THOUGHT]
    assert result.fragments == FRAGMENTS
    assert result.finish == "tool_calls"
    assert result.usage == Usage(17, 42, cached_tokens=5, cache_creation_tokens=2)
    assert result.model == "claude-x"
    assert result.done and result.failure is None
    assert result.raw == STREAM


@pytest.mark.parametrize(
    "cuts",
    [
        pytest.param(line_ends(STREAM), id="a line at a time"),
        pytest.param(list(range(7, len(STREAM), 7)), id="every 7 bytes"),
        pytest.param(list(range(1, len(STREAM))), id="every byte"),
        pytest.param([STREAM.index("日".encode()) + 1, STREAM.index("🙂".encode()) + 2], id="inside characters"),
    ],
)
def test_however_the_stream_is_cut_it_gives_the_same_chunks_and_its_own_bytes_in_whole_events(cuts: list[int]) -> None:
    whole = read(STREAM, [])
    result = read(STREAM, cuts)
    assert result.totals() == whole.totals()
    assert result.raw == STREAM
    assert all(chunk.raw.endswith(b"\n\n") for chunk in result.chunks if chunk.raw)


def test_every_cut_in_two_reads_gives_the_same_chunks_and_bytes() -> None:
    whole = read(STREAM, []).totals()
    for cut in range(1, len(STREAM)):
        result = read(STREAM, [cut])
        assert result.totals() == whole, cut
        assert result.raw == STREAM, cut


def test_crlf_framing_is_read_the_same_and_relayed_byte_for_byte() -> None:
    crlf = STREAM.replace(b"\n", b"\r\n")
    assert read(crlf, line_ends(crlf)).totals() == read(STREAM, []).totals()
    assert read(crlf, line_ends(crlf)).raw == crlf
    assert read(crlf, [crlf.rindex(b"message_stop") + 30]).raw == crlf  # its last blank line in a read of its own


def test_without_raw_no_bytes_are_kept() -> None:
    result = read(STREAM, line_ends(STREAM), raw=False)
    assert result.raw == b"" and result.totals() == read(STREAM, []).totals()


def test_the_sdk_reads_the_same_message_from_the_same_bytes() -> None:
    _, message = final_message(STREAM)
    result = read(STREAM, [])
    texts = [b.text for b in message.content if b.type == "text"]
    thinking = [(b.thinking, b.signature) for b in message.content if b.type == "thinking"]
    inputs = [b.input for b in message.content if b.type == "tool_use"]
    assert texts == [result.text]
    assert thinking == [(THOUGHT["thinking"], THOUGHT["signature"])]
    assert inputs == [{"city": "Paris"}, {}]
    by_call: dict[int, str] = {}
    for fragment in result.fragments:
        by_call[fragment["index"]] = by_call.get(fragment["index"], "") + fragment["function"]["arguments"]
    assert [json.loads(value) for value in by_call.values()] == inputs


def test_a_text_delta_read_alone_is_one_chunk_of_its_text_and_its_event() -> None:
    reader = EventReader(raw=True)
    reader.feed(start({"input_tokens": 3, "output_tokens": 1}).split(b"\n"))
    event = text(0, "Hi")
    assert reader.feed(event.split(b"\n")[:-1]) == (Chunk(text="Hi", raw=event), False, None)


def test_an_error_event_fails_after_the_text_before_it_and_is_not_relayed() -> None:
    before = start({"input_tokens": 3, "output_tokens": 1}) + block(0, {"type": "text", "text": ""}) + text(0, "par")
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}, "request_id": "req_1"}
    result = read(before + sse("error", error), [])
    assert result.text == "par" and not result.done
    assert result.failure == "the upstream reported an error: overloaded_error: Overloaded"
    assert result.raw == before


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([b"event: content_block_delta", b"data: {not json", b""], "not JSON"),
        ([b"event: content_block_delta", b"data: [1]", b""], "not an object"),
        ([b'data: {"type":"ping"}', b""], "a data line outside an event"),
        ([b"<html>", b""], "a malformed event stream"),
    ],
)
def test_a_malformed_line_fails_after_the_text_before_it(lines: list[bytes], message: str) -> None:
    reader = EventReader()
    chunk, done, failure = reader.feed([*text(0, "kept").split(b"\n")[:-1], *lines])
    assert chunk is not None and chunk.text == "kept" and not done
    assert failure is not None and failure.type == "upstream_error" and message in failure.message


def test_message_stop_ends_the_stream_at_once_and_nothing_after_it_is_read() -> None:
    reader = EventReader(raw=True)
    stop_event = sse("message_stop", {"type": "message_stop"})
    lines = stop_event.split(b"\n")[:2]  # its blank line not yet arrived
    chunk, done, failure = reader.feed([*lines, b"", *text(0, "late").split(b"\n")])
    assert done and failure is None
    assert chunk == Chunk(raw=stop_event)


def test_message_delta_counts_overwrite_message_starts_and_the_model_comes_with_them() -> None:
    reader = EventReader()
    reader.feed(start({"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 1}).split(b"\n"))
    usage = {"input_tokens": 12, "cache_read_input_tokens": None, "output_tokens": 3}
    chunk, _, _ = reader.feed(end("max_tokens", usage).split(b"\n"))
    assert chunk is not None and chunk.finish_reason == "length" and chunk.model == "claude-x"
    assert chunk.usage == Usage(17, 3, cached_tokens=5)
    assert reader.message_id == "msg_1"


def test_redacted_thinking_comes_whole_and_omitted_thinking_is_its_signature_alone() -> None:
    reader = EventReader()
    data = (
        block(0, {"type": "redacted_thinking", "data": "EmwKAhgB"})
        + stop(0)
        + block(1, {"type": "thinking", "thinking": "", "signature": ""})
        + delta(1, {"type": "signature_delta", "signature": "sig"})
        + stop(1)
    )
    chunk, _, _ = reader.feed(data.split(b"\n"))
    assert chunk is not None and chunk.reasoning == ""
    assert chunk.thinking == (
        {"type": "redacted_thinking", "data": "EmwKAhgB"},
        {"type": "thinking", "thinking": "", "signature": "sig"},
    )


def test_a_server_tools_input_is_no_tool_call_and_the_next_tool_use_is_still_counted_from_0() -> None:
    data = (
        block(0, {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}})
        + arguments(0, '{"query": "x"}')
        + stop(0)
        + block(1, {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {}})
        + arguments(1, "{}")
        + stop(1)
    )
    chunk, _, _ = EventReader().feed(data.split(b"\n"))
    assert chunk is not None
    assert chunk.tool_calls == (
        {"index": 0, "id": "toolu_9", "type": "function", "function": {"name": "f", "arguments": ""}},
        {"index": 0, "function": {"arguments": "{}"}},
    )


def test_events_already_parsed_are_taken_one_by_one_as_bedrock_carries_them() -> None:
    reader = EventReader()
    for line in STREAM.split(b"\n"):
        if line.startswith(b"data: ") and b'"ping"' not in line and b"future_event" not in line:
            assert reader.take(json.loads(line[6:])) is None
    chunk = reader.chunk()
    assert chunk is not None and reader.done
    assert (chunk.text, chunk.tool_calls, chunk.thinking) == ("héllo wörld 🙂", tuple(FRAGMENTS), (THOUGHT,))
    assert chunk.usage == Usage(17, 42, cached_tokens=5, cache_creation_tokens=2)
