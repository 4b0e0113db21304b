"""Gemini's streamed answer as chunks, and its whole answer as a chat.completion
(gateway/upstreams/gemini/events.py, objects.py, parts.py)."""

from __future__ import annotations

import json
from typing import Any

from gateway.upstreams.gemini.events import EventReader
from gateway.upstreams.gemini.objects import to_chat_completion
from gateway.upstreams.gemini.terms import signature_of
from gateway.upstreams.llm import Usage

USAGE = {"promptTokenCount": 12, "candidatesTokenCount": 3, "thoughtsTokenCount": 16, "cachedContentTokenCount": 4}


def line(event: dict[str, Any]) -> list[bytes]:
    return [b"data: " + json.dumps(event).encode() + b"\r", b"\r", b""]


def parts(*found: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(found)}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], **extra}


def test_text_and_thoughts_stream_and_the_last_event_ends_with_its_usage() -> None:
    reader = EventReader()
    first, done, failure = reader.feed(line(parts({"text": "plan", "thought": True}, {"text": "tok0"})))
    assert first is not None and (first.text, first.reasoning, done, failure) == ("tok0", "plan", False, None)
    last, done, _ = reader.feed(line(parts({"text": " tok1"}, finish="STOP", usageMetadata=USAGE, modelVersion="g-3")))
    assert last is not None and done and last.finish_reason == "stop" and last.model == "g-3"
    assert last.usage == Usage(12, 19, cached_tokens=4, reasoning_tokens=16)


def test_events_of_one_read_are_one_chunk() -> None:
    chunk, _, _ = EventReader().feed([*line(parts({"text": "a"})), *line(parts({"text": "b"}))])
    assert chunk is not None and chunk.text == "ab"


def test_a_function_call_is_one_whole_tool_call_whose_id_carries_its_signature() -> None:
    reader = EventReader()
    call = {"functionCall": {"name": "get", "args": {"city": "Paris"}}, "thoughtSignature": "ab+/cd=="}
    chunk, _, _ = reader.feed(line(parts(call, {"functionCall": {"name": "get", "args": {}}}, finish="STOP")))
    assert chunk is not None and chunk.finish_reason == "tool_calls"
    first, second = chunk.tool_calls
    assert first["function"] == {"name": "get", "arguments": '{"city":"Paris"}'} and first["index"] == 0
    assert signature_of({"id": first["id"]}) == "ab+/cd==" and "+" not in first["id"] and "=" not in first["id"]
    assert first["extra_content"] == {"google": {"thought_signature": "ab+/cd=="}}
    assert second["index"] == 1 and "__thought__" not in second["id"] and "extra_content" not in second


def test_a_blocked_prompt_ends_as_content_filter_and_an_error_event_fails() -> None:
    chunk, done, _ = EventReader().feed(line({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": USAGE}))
    assert chunk is not None and done and chunk.finish_reason == "content_filter"
    error = {"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}}
    chunk, done, failure = EventReader().feed([*line(parts({"text": "tok0"})), *line(error)])
    assert chunk is not None and chunk.text == "tok0" and failure is not None
    assert failure.message == "the upstream reported an error: INTERNAL: An internal error has occurred."


def test_a_line_that_is_not_an_event_fails() -> None:
    assert EventReader().feed([b"this is not an event stream\r"])[2] is not None
    assert EventReader().feed([b"data: {not json\r"])[2] is not None


def test_a_whole_answer_is_a_chat_completion() -> None:
    answer = parts(
        {"text": "why", "thought": True},
        {"text": "It is"},
        {"functionCall": {"name": "get", "args": {}}, "thoughtSignature": "c2ln"},
        finish="STOP",
        usageMetadata=USAGE,
    )
    completion = to_chat_completion(answer, "chatcmpl-1", "gemini")
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] == "It is"
    assert choice["message"]["reasoning_content"] == "why" and "index" not in choice["message"]["tool_calls"][0]
    assert completion["usage"]["completion_tokens_details"] == {"reasoning_tokens": 16}
    assert completion["usage"]["prompt_tokens_details"] == {"cached_tokens": 4}
    blocked = to_chat_completion({"promptFeedback": {"blockReason": "OTHER"}}, "chatcmpl-2", "gemini")
    assert blocked["choices"][0]["finish_reason"] == "content_filter" and blocked["model"] == "gemini"
