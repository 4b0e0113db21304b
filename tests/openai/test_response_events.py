"""Responses events and objects, pure: the order OpenAI sends, one sequence, every item added
before its deltas and done before the response; a resumed stream adds the items only its record
holds; a record's status as the response's."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from gateway.openai.response_events import ResponseFrames
from gateway.openai.response_object import Final, Shape, record_id_of, response_id, response_object
from gateway.streams.answer import Answer
from gateway.upstreams.llm import Usage

RECORD = uuid.uuid4()
SHAPE = Shape(RECORD, 1_700_000_000, "m", "be brief", [], {"metadata": {"a": "b"}}, None)


def events(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in data.decode().splitlines() if line.startswith("data: ")]


def ids(data: bytes) -> list[str]:
    return [line[4:] for line in data.decode().splitlines() if line.startswith("id: ")]


def test_text_then_tool_calls_come_in_openais_order_with_one_sequence() -> None:
    answer = Answer(0.0, [])
    frames = ResponseFrames(SHAPE, answer)
    out = frames.role()
    for piece in ("Hel", "lo"):
        answer.add(piece, 1.0)
        out += frames.content(piece, answer.length)
    fragments: list[tuple[Any, ...]] = [
        ({"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}},),
        ({"index": 0, "function": {"arguments": '{"a":'}},),
        ({"index": 0, "function": {"arguments": "1}"}},),
    ]
    for fragment in fragments:
        answer.add_calls(fragment, 1.0)
        out += frames.calls(fragment, answer.length)
    answer.finish_reason, answer.usage = "tool_calls", Usage(3, 4)
    out += frames.finish("tool_calls", answer.length) + frames.usage(Usage(3, 4), answer.length) + frames.done()
    sent = events(out)
    assert [event["type"] for event in sent] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event["sequence_number"] for event in sent] == list(range(len(sent)))
    assert ids(out)[4:6] == [f"{RECORD}:3", f"{RECORD}:5"]  # the characters sent so far
    done = sent[-1]["response"]
    assert [item["type"] for item in done["output"]] == ["message", "function_call"]
    assert done["output"][1] | {} == {
        "id": f"fc_{RECORD.hex}_1",
        "type": "function_call",
        "status": "completed",
        "call_id": "call_1",
        "name": "f",
        "arguments": '{"a":1}',
    }
    assert done["usage"]["total_tokens"] == 7 and done["metadata"] == {"a": "b"}
    assert sent[6]["item"]["id"] == done["output"][1]["id"]  # the same item from added to done


def test_a_failure_ends_with_response_failed_and_the_output_so_far() -> None:
    answer = Answer(0.0, [])
    frames = ResponseFrames(SHAPE, answer)
    answer.add("partial", 1.0)
    out = frames.role() + frames.content("partial", 7) + frames.error("upstream_timeout", "silent", 7)
    failed = events(out)[-1]
    assert failed["type"] == "response.failed"
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"] == {"code": "upstream_timeout", "message": "silent"}
    assert failed["response"]["output"][0]["content"][0]["text"] == "partial"


def test_a_resumed_stream_adds_the_calls_only_its_record_holds() -> None:
    frames = ResponseFrames(SHAPE, first=20, resumed=True)
    call = {"id": "call_9", "type": "function", "function": {"name": "g", "arguments": "{}"}}
    final = Final("text", [call], Usage(1, 2), "tool_calls", "complete")
    out = frames.content("more", 8) + frames.closing(final, 8)
    sent = events(out)
    assert sent[0]["sequence_number"] == 20 and sent[0]["output_index"] == 0
    kinds = [event["type"] for event in sent]
    assert kinds[4:] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert sent[4]["output_index"] == 1 and sent[5]["delta"] == "{}"


def test_a_records_status_is_the_responses() -> None:
    def status(record_status: str, finish: str | None) -> tuple[str, Any]:
        body = response_object(SHAPE, Final("x", [], None, finish, record_status, "why"))
        return body["status"], body["incomplete_details"] or body["error"]

    assert status("complete", "stop") == ("completed", None)
    assert status("complete", "length") == ("incomplete", {"reason": "max_output_tokens"})
    assert status("complete", "content_filter") == ("incomplete", {"reason": "content_filter"})
    assert status("streaming", None) == ("in_progress", None)
    assert status("cancelled", None) == ("cancelled", None)
    assert status("interrupted", None) == ("failed", {"code": "server_error", "message": "why"})


def test_a_response_id_is_its_records_and_nothing_else_is_one() -> None:
    assert record_id_of(response_id(RECORD)) == RECORD
    for bad in ("resp_xyz", RECORD.hex, "resp_" + "g" * 32, f"resp_{RECORD.hex}0"):
        assert record_id_of(bad) is None
    row = {
        "id": RECORD,
        "created_at": dt.datetime(2026, 1, 1),
        "model": "m",
        "system": None,
        "tools": None,
        "params": '{"store": false}',
        "previous_response_id": RECORD.hex,
    }
    shape = Shape.of(row)
    assert shape.created_at == 1767225600 and shape.previous_response_id == RECORD and shape.params["store"] is False
