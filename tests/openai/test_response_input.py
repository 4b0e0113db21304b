"""Responses requests, read: input items become chat messages, function tools and their choice take
chat's shape, the rest maps or passes; what the gateway does not read is never an error (a chat
upstream is not given it, and it is named as left out); a malformed value of what it reads is a
422 naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import Invalid
from gateway.openai.response_input import read_request
from gateway.openai.response_state import settle_calls

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
            {"type": "reasoning", "summary": [], "encrypted_content": "opaque"},
        ]
    )  # fmt: skip
    assert asked.left_out == ["input:reasoning"]
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
    assert asked.left_out == ["metadata"]
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


def test_what_the_gateway_does_not_read_passes_and_is_named_as_left_out_for_a_chat_upstream() -> None:
    namespace = {
        "type": "namespace",
        "name": "agents",
        "description": "sub-agents",
        "tools": [{"type": "function", "name": "spawn", "parameters": {"type": "object", "properties": {}}}],
    }
    asked = read(
        client_metadata={"session_id": "s"},
        moderation=None,
        prompt_cache_options={"ttl": "1h"},
        background_options={"poll": True},
        include=["reasoning.encrypted_content"],
        frobnicate=1,
        tools=[{"type": "web_search", "external_web_access": False}, namespace],
        text={"verbosity": "low"},
        input=[
            {"role": "user", "content": [{"type": "input_text", "text": "hi"}, {"type": "input_video", "x": 1}]},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        ],
    )
    assert asked.left_out == [
        "client_metadata", "moderation", "prompt_cache_options", "background_options", "include", "frobnicate",
        "content:input_video", "input:web_search_call", "tools:web_search",
    ]  # fmt: skip
    assert asked.options["tools"] == [
        {"type": "function", "function": {"name": "spawn", "parameters": {"type": "object", "properties": {}}}}
    ]
    assert asked.options["verbosity"] == "low" and asked.params["client_metadata"] == {"session_id": "s"}
    assert asked.messages == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


def test_tool_choice_without_tools_is_not_sent_to_a_chat_upstream() -> None:
    asked = read(tool_choice="auto")
    assert "tool_choice" not in asked.options and asked.left_out == ["tool_choice"]
    hosted_only = read(tools=[{"type": "web_search"}], tool_choice="required")
    assert "tools" not in hosted_only.options and "tool_choice" not in hosted_only.options


def test_functions_of_two_namespaces_that_share_a_name_are_told_apart() -> None:
    def group(name: str) -> dict[str, Any]:
        return {"type": "namespace", "name": name, "tools": [{"type": "function", "name": "run"}]}

    asked = read(tools=[group("a"), group("b")], tool_choice={"type": "function", "name": "run", "namespace": "b"})
    assert [tool["function"]["name"] for tool in asked.options["tools"]] == ["a__run", "b__run"]
    assert asked.options["tool_choice"] == {"type": "function", "function": {"name": "b__run"}}


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"input": []}, "input"),
        ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
        ({"input": [{"type": "function_call", "call_id": 3, "name": "f", "arguments": "{}"}]}, "input[0].call_id"),
        ({"tools": "web_search"}, "tools"),
        ({"tool_choice": 7}, "tool_choice"),
        ({"text": {"format": {"type": "yaml"}}}, "text.format.type"),
        ({"reasoning": "high"}, "reasoning"),
        ({"background": True, "store": False}, "background"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"temperature": 9}, "temperature"),
        ({"conversation": 12}, "conversation"),
        ({"input": "\ud800"}, "input"),
    ],
)
def test_a_malformed_value_of_a_field_the_gateway_reads_is_refused_naming_it(body: dict[str, Any], names: str) -> None:
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
