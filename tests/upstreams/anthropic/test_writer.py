"""What a chat-completions upstream said, written as Anthropic's events: the anthropic SDK's own
accumulator rebuilds the message (thinking with its signature, text, tool calls from interleaved
fragments, stop reason, usage); every block has one start and one stop, in order, whatever comes;
an error ends the stream."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.upstreams.anthropic.writer import EventWriter
from gateway.upstreams.llm import Usage
from tests.upstreams.anthropic.sdk import client_of, final_message

SIGNED = {"type": "thinking", "thinking": "Let me think", "signature": "EqQBsig=="}


def events(data: bytes) -> list[tuple[str, dict[str, Any]]]:
    """The events written, each checked for Anthropic's framing."""
    assert data.endswith(b"\n\n")
    found = []
    for frame in data[:-2].split(b"\n\n"):
        name, payload = frame.split(b"\n")
        assert name.startswith(b"event: ") and payload.startswith(b"data: ")
        value = json.loads(payload[6:])
        assert value["type"] == name[7:].decode()
        found.append((name[7:].decode(), value))
    return found


def check_blocks(data: bytes) -> list[tuple[str, dict[str, Any]]]:
    """Blocks one after the other, counted from 0, each with exactly one start and one stop."""
    found = events(data)
    assert found[0][0] == "message_start"
    open_index, next_index = None, 0
    for name, value in found:
        if name == "content_block_start":
            assert open_index is None and value["index"] == next_index
            open_index, next_index = next_index, next_index + 1
        elif name == "content_block_delta":
            assert value["index"] == open_index
        elif name == "content_block_stop":
            assert value["index"] == open_index
            open_index = None
        else:
            assert open_index is None, name
    assert open_index is None
    return found


def call(index: int, call_id: str | None = None, name: str | None = None, arguments: str = "") -> dict[str, Any]:
    fragment: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if call_id is not None:
        fragment.update(id=call_id, type="function")
        fragment["function"]["name"] = name
    return fragment


def test_the_sdk_rebuilds_thinking_text_interleaved_calls_stop_reason_and_usage() -> None:
    writer = EventWriter("msg_1", "gpt-x")
    data = writer.start(12)
    data += writer.reasoning("Let me ") + writer.reasoning("think") + writer.reasoning("", (SIGNED,))
    data += writer.text("Hello ") + writer.text('"world"\n')
    data += writer.calls((call(0, "call_a", "get_weather"), call(1, "call_b", "now")))
    data += writer.calls((call(0, arguments='{"city":'), call(1, arguments='{"tz": "UTC"}')))
    data += writer.calls((call(0, arguments=' "Paris"}'),))
    data += writer.finish("tool_calls") + writer.usage(Usage(20, 9, cached_tokens=5, cache_creation_tokens=3))
    data += writer.stop()
    check_blocks(data)
    kinds, message = final_message(data)
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert message.id == "msg_1" and message.model == "gpt-x"
    thinking, text, first, second = message.content
    assert thinking.type == "thinking" and (thinking.thinking, thinking.signature) == ("Let me think", "EqQBsig==")
    assert text.type == "text" and text.text == 'Hello "world"\n'
    assert first.type == "tool_use" and (first.id, first.name, first.input) == (
        "call_a",
        "get_weather",
        {"city": "Paris"},
    )
    assert second.type == "tool_use" and (second.id, second.name, second.input) == ("call_b", "now", {"tz": "UTC"})
    assert message.stop_reason == "tool_use" and message.stop_sequence is None
    usage = message.usage
    assert (usage.input_tokens, usage.output_tokens) == (12, 9)
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (5, 3)


def test_the_message_starts_with_the_estimate_and_a_ping_in_anthropics_framing() -> None:
    data = EventWriter("msg_1", "m").start(7)
    usage = b'"usage":{"input_tokens":7,"output_tokens":1,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}'
    assert data.startswith(b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1"')
    assert usage in data
    assert data.endswith(b'\n\nevent: ping\ndata: {"type":"ping"}\n\n')


def test_sequential_calls_each_stream_as_they_come() -> None:
    writer = EventWriter("msg_1", "m")
    writer.start(0)
    first = writer.calls((call(0, "call_a", "f", '{"a": 1}'),))
    assert [name for name, _ in events(first)] == ["content_block_start", "content_block_delta"]
    second = writer.calls((call(1, "call_b", "g"),))
    assert [name for name, _ in events(second)] == ["content_block_stop", "content_block_start"]
    more = writer.calls((call(1, arguments='{"b": 2}'),))
    assert events(more) == [
        ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                 "delta": {"type": "input_json_delta", "partial_json": '{"b": 2}'}}),
    ]  # fmt: skip


def test_reasoning_without_a_signature_is_a_thinking_block_the_sdk_keeps_unsigned() -> None:
    writer = EventWriter("msg_1", "m")
    data = writer.start(1) + writer.reasoning("hmm") + writer.text("ok") + writer.finish("stop")
    data += writer.usage(Usage(1, 2)) + writer.stop()
    check_blocks(data)
    _, message = final_message(data)
    thinking, text = message.content
    assert thinking.type == "thinking" and (thinking.thinking, thinking.signature) == ("hmm", "")
    assert text.type == "text" and text.text == "ok"
    assert message.stop_reason == "end_turn"


def test_whole_blocks_without_their_deltas_are_written_whole() -> None:
    writer = EventWriter("msg_1", "m")
    redacted = {"type": "redacted_thinking", "data": "EmwKAhgB"}
    data = writer.start(1) + writer.reasoning("", (SIGNED, redacted)) + writer.stop()
    check_blocks(data)
    _, message = final_message(data)
    assert [block.to_dict() for block in message.content] == [SIGNED, redacted]


def test_a_call_without_arguments_gets_an_empty_object_as_its_only_input_delta() -> None:
    writer = EventWriter("msg_1", "m")
    data = writer.start(1) + writer.calls((call(0, "functions.now:0", "now"),)) + writer.finish("tool_calls")
    found = check_blocks(data + writer.stop())
    deltas = [value["delta"] for name, value in found if name == "content_block_delta"]
    assert deltas == [{"type": "input_json_delta", "partial_json": "{}"}]
    start = next(value["content_block"] for name, value in found if name == "content_block_start")
    assert start["input"] == {} and start["id"].startswith("functions_now_0_")


def test_a_fragment_of_a_call_already_closed_opens_no_block_again() -> None:
    writer = EventWriter("msg_1", "m")
    data = writer.start(1) + writer.calls((call(0, "call_a", "f", "{}"),)) + writer.text("then text")
    late = writer.calls((call(0, arguments="more"),))
    assert late == b""
    check_blocks(data + writer.stop())


@pytest.mark.parametrize(
    ("finish", "reason"), [("length", "max_tokens"), ("content_filter", "refusal"), ("stop", "end_turn")]
)
def test_the_finish_reason_is_the_stop_reason_of_message_delta(finish: str, reason: str) -> None:
    writer = EventWriter("msg_1", "m")
    data = writer.start(1) + writer.text("x") + writer.finish(finish) + writer.usage(Usage(3, 1)) + writer.stop()
    assert final_message(data)[1].stop_reason == reason


def test_without_usage_stop_still_sends_the_stop_reason_before_message_stop() -> None:
    writer = EventWriter("msg_1", "m")
    found = check_blocks(writer.start(1) + writer.text("x") + writer.finish("length") + writer.stop())
    assert [name for name, _ in found][-2:] == ["message_delta", "message_stop"]
    assert found[-2][1]["delta"]["stop_reason"] == "max_tokens"
    assert writer.stop() == b"" and writer.text("late") == b""


def test_an_error_closes_the_open_block_and_nothing_is_written_after_it() -> None:
    writer = EventWriter("msg_1", "m")
    data = writer.start(1) + writer.text("partial") + writer.calls((call(3, "call_x", "f", '{"cut'),))
    data += writer.error("upstream_rate_limited", "the upstream is rate-limiting")
    found = check_blocks(data)
    assert found[-1] == (
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "the upstream is rate-limiting"}},
    )
    assert writer.stop() == b"" and writer.usage(Usage(1, 1)) == b"" and writer.error("x", "y") == b""
    with pytest.raises(anthropic.APIStatusError) as raised:
        with client_of(data).messages.stream(
            model="m", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        ) as s:
            s.get_final_message()
    assert raised.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "the upstream is rate-limiting"},
    }


def test_an_error_before_anything_still_starts_the_message() -> None:
    found = events(EventWriter("msg_1", "m").error("upstream_timeout", "slow"))
    assert [name for name, _ in found] == ["message_start", "ping", "error"]
    assert found[-1][1]["error"]["type"] == "timeout_error"


ARGUMENTS = ["", "{}", '{"a": 1}', '{"city": "Paris", "days": [1, 2]}', '{"q": "日本語 \\"quoted\\""}']
steps: st.SearchStrategy[tuple[str, Any]] = st.one_of(
    st.tuples(st.just("text"), st.text(max_size=5)),
    st.tuples(st.just("reasoning"), st.text(max_size=5)),
    st.tuples(st.just("signed"), st.booleans()),
    st.tuples(st.just("call"), st.integers(0, 2)),
)


@settings(max_examples=300, deadline=None)
@given(st.data(), st.sampled_from(["finish", "error", "stop"]))
def test_whatever_comes_every_block_has_one_start_and_one_stop_in_order(data: st.DataObject, ending: str) -> None:
    """Text, reasoning, whole blocks and the fragments of up to three calls, in any order (each
    call's arguments cut anywhere, its pieces in order), then a finish, a bare stop or an error."""
    calls = data.draw(st.lists(st.sampled_from(ARGUMENTS), max_size=3))
    pieces = []
    for value in calls:
        cuts = sorted(data.draw(st.sets(st.integers(0, len(value)), max_size=3)))
        pieces.append([value[a:b] for a, b in zip([0, *cuts], [*cuts, len(value)], strict=True)])
    plan = data.draw(st.lists(steps, max_size=14))
    writer = EventWriter("msg_1", "m")
    out = writer.start(1)
    sent = [0] * len(calls)
    cut_short = set()  # calls whose block anything else closed before their last piece
    for kind, value in plan:
        if kind != "call" and (value or kind == "signed"):
            cut_short |= {i for i in range(len(calls)) if 0 < sent[i] < len(pieces[i])}
        if kind == "text":
            out += writer.text(value)
        elif kind == "reasoning":
            out += writer.reasoning(value)
        elif kind == "signed":
            out += writer.reasoning("", (SIGNED,) if value else ({"type": "redacted_thinking", "data": "x"},))
        elif value < len(calls) and sent[value] < len(pieces[value]):
            piece = pieces[value][sent[value]]
            first = sent[value] == 0
            sent[value] += 1
            out += writer.calls((call(value, f"call_{value}", "f", piece) if first else call(value, arguments=piece),))
    if ending == "error":
        out += writer.error("upstream_error", "broke")
    else:
        if ending == "finish":
            out += writer.finish("tool_calls") + writer.usage(Usage(2, 1))
        out += writer.stop()
    found = check_blocks(out)
    names = [name for name, _ in found]
    assert names.count("message_start") == 1 and names.count("error") == (ending == "error")
    if ending != "error":
        _, message = final_message(out)
        assert len(message.content) == names.count("content_block_start")
        texts = "".join(value for kind, value in plan if kind == "text")
        assert "".join(block.text for block in message.content if block.type == "text") == texts
        uses = {block.id: block.input for block in message.content if block.type == "tool_use"}
        for index, value in enumerate(calls):
            if sent[index] == len(pieces[index]) and index not in cut_short:
                assert uses[f"call_{index}"] == json.loads(value or "{}")
