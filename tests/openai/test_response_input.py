"""Responses requests, read: input items become chat messages, function tools and their choice take
chat's shape, the rest maps or passes; what chat-completions cannot do is a 422 naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import Invalid
from gateway.openai.response_input import read_request
from gateway.openai.responses import settle_calls

LIMIT = 10_000


def read(**body: Any) -> Any:
    return read_request({"input": "hi", **body}, LIMIT)


def test_items_become_chat_messages_and_consecutive_calls_one_assistant_message() -> None:
    asked = read(
        input=[
            {"role": "developer", "content": "be kind"},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "look"},
                {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "low"},
                {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,AAAA"},
            ]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{\"x\":1}"},
            {"type": "function_call_output", "call_id": "c1", "output": "one"},
            {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "two"}]},
            {"type": "reasoning", "summary": []},
        ]
    )  # fmt: skip
    assert asked.messages == [
        {"role": "developer", "content": "be kind"},
        {"role": "user", "content": [
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,AAAA", "filename": "a.pdf"}},
        ]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{\"x\":1}"}},
        ]},
        {"role": "tool", "tool_call_id": "c1", "content": "one"},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "two"}]},
    ]  # fmt: skip


def test_parameters_take_their_chat_names_and_the_record_keeps_them_as_they_came() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    body = {
        "tools": [{"type": "function", "name": "f", "parameters": schema, "strict": True}],
        "tool_choice": {"type": "function", "name": "f"},
        "text": {"format": {"type": "json_schema", "name": "out", "schema": schema, "strict": True}},
        "reasoning": {"effort": "low"},
        "max_output_tokens": 50,
        "top_logprobs": 2,
        "temperature": 0.5,
        "user": "u1",
        "metadata": {"k": "v"},
        "store": True,
    }
    asked = read(**body)
    assert asked.options == {
        "temperature": 0.5,
        "user": "u1",
        "tools": [{"type": "function", "function": {"name": "f", "parameters": schema, "strict": True}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "response_format": {"type": "json_schema", "json_schema": {"name": "out", "schema": schema, "strict": True}},
        "reasoning_effort": "low",
        "max_completion_tokens": 50,
        "logprobs": True,
        "top_logprobs": 2,
    }
    assert asked.params == {name: value for name, value in body.items() if name != "tools"}
    assert asked.tools == body["tools"] and asked.store and not asked.stream


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"frobnicate": 1}, "unknown field: frobnicate"),
        ({"input": []}, "input"),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0].type"),
        ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
        ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]}, "image_url"),
        ({"tool_choice": {"type": "allowed_tools"}}, "tool_choice"),
        ({"text": {"format": {"type": "yaml"}}}, "text.format.type"),
        ({"background": True, "store": False}, "background"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"input": "\ud800"}, "input"),
    ],
)
def test_what_chat_completions_cannot_do_is_refused_naming_the_field(body: dict[str, Any], names: str) -> None:
    with pytest.raises(Invalid) as refused:
        read(**body)
    assert names in refused.value.message


def test_a_call_nobody_answered_is_told_as_text_and_an_answered_one_kept() -> None:
    calls = [
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"id": "b", "type": "function", "function": {"name": "g", "arguments": '{"x":1}'}},
    ]
    settled = settle_calls(
        [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": "calling", "tool_calls": calls},
            {"role": "tool", "tool_call_id": "a", "content": "done"},
            {"role": "user", "content": "and?"},
        ]
    )
    assert settled[1] == {
        "role": "assistant",
        "content": 'calling\n[called g with {"x":1}]',
        "tool_calls": calls[:1],
    }
    assert settle_calls([{"role": "assistant", "content": None, "tool_calls": calls}]) == [
        {"role": "assistant", "content": '[called f with {}]\n[called g with {"x":1}]'}
    ]
