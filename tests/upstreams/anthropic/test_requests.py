"""Chat requests as Anthropic Messages requests: each option that has an equivalent takes its
Anthropic shape, every other is left out and named, and nothing Anthropic would refuse as an
extra input is ever sent."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.upstreams.anthropic.requests import to_anthropic
from gateway.upstreams.llm import Completion
from tests.upstreams.anthropic import shapes

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
CITY = {"type": "object", "properties": {"city": {"type": "string"}}}
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather of a city", "parameters": CITY},
}


def translate(**options: Any) -> tuple[dict[str, Any], list[str]]:
    body, left_out = to_anthropic(Completion(messages=MESSAGES, model="claude-x", options=options))
    shapes.check(body)
    return body, left_out


def test_a_plain_request_is_model_system_messages_and_the_default_max_tokens() -> None:
    body, left_out = translate(stream=True, stream_options={"include_usage": True})
    assert body == {
        "model": "claude-x",
        "messages": [{"role": "user", "content": "Hi"}],
        "system": [{"type": "text", "text": "Be brief."}],
        "max_tokens": 4096,
    }
    assert left_out == []


@pytest.mark.parametrize(
    ("options", "max_tokens"),
    [({}, 4096), ({"max_tokens": 100}, 100), ({"max_completion_tokens": 50, "max_tokens": 100}, 50),
     ({"max_tokens": 0}, 0)],
)  # fmt: skip
def test_max_completion_tokens_wins_over_max_tokens_and_else_the_default(
    options: dict[str, Any], max_tokens: int
) -> None:
    assert translate(**options)[0]["max_tokens"] == max_tokens


@pytest.mark.parametrize(
    ("options", "expected", "left_out"),
    [
        ({"stop": "END"}, {"stop_sequences": ["END"]}, []),
        ({"stop": ["a", "\n", " "]}, {"stop_sequences": ["a"]}, ["stop"]),
        ({"temperature": 1.7, "top_p": 0.5, "top_k": 40}, {"temperature": 1.0, "top_p": 0.5, "top_k": 40}, []),
        ({"temperature": 0.2}, {"temperature": 0.2}, []),
        ({"safety_identifier": "u-1", "user": "u-2"}, {"metadata": {"user_id": "u-1"}}, []),
        ({"user": "u-2"}, {"metadata": {"user_id": "u-2"}}, []),
        ({"user": "jane@example.com"}, {}, ["user"]),
        ({"safety_identifier": "+1 (555) 010-9999"}, {}, ["safety_identifier"]),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "o", "schema": {"type": "object"}}}},
         {"output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}}, []),
        ({"response_format": {"type": "json_object"}}, {}, ["response_format"]),
        ({"response_format": {"type": "text"}}, {}, []),
        ({"n": 1}, {}, []),
        ({"n": 2}, {}, ["n"]),
        ({"logprobs": True, "seed": 3, "metadata": {"a": "b"}, "service_tier": "flex", "frequency_penalty": 1},
         {}, ["logprobs", "seed", "metadata", "service_tier", "frequency_penalty"]),
    ],
)  # fmt: skip
def test_each_option_is_its_anthropic_field_or_left_out_by_name(
    options: dict[str, Any], expected: dict[str, Any], left_out: list[str]
) -> None:
    body, left = translate(**options)
    base = {"model", "messages", "system", "max_tokens"}
    assert {name: value for name, value in body.items() if name not in base} == expected
    assert left == left_out


def test_without_sampling_temperature_top_p_and_top_k_are_left_out() -> None:
    completion = Completion(MESSAGES, "claude-x", options={"temperature": 0.5, "top_p": 0.9, "top_k": 5})
    body, left_out = to_anthropic(completion, sampling=False)
    assert not {"temperature", "top_p", "top_k"} & set(body)
    assert left_out == ["temperature", "top_p", "top_k"]


@pytest.mark.parametrize(
    ("options", "thinking", "max_tokens"),
    [
        ({"reasoning_effort": "minimal"}, {"type": "enabled", "budget_tokens": 1024}, 4096),
        ({"reasoning_effort": "low"}, {"type": "enabled", "budget_tokens": 1024}, 4096),
        ({"reasoning_effort": "medium"}, {"type": "enabled", "budget_tokens": 2048}, 4096),
        ({"reasoning_effort": "high"}, {"type": "enabled", "budget_tokens": 4096}, 8192),
        ({"reasoning_effort": "high", "max_tokens": 3000}, {"type": "enabled", "budget_tokens": 4096}, 3000),
        ({"reasoning_effort": "none"}, None, 4096),
    ],
)
def test_reasoning_effort_is_a_thinking_budget_and_a_defaulted_max_tokens_rises_above_it(
    options: dict[str, Any], thinking: dict[str, Any] | None, max_tokens: int
) -> None:
    body, left_out = translate(**options)
    assert body.get("thinking") == thinking and body["max_tokens"] == max_tokens and left_out == []


def test_on_adaptive_models_the_effort_is_output_configs() -> None:
    completion = Completion(MESSAGES, "claude-x", options={"reasoning_effort": "minimal"})
    body, _ = to_anthropic(completion, adaptive=True)
    shapes.check(body)
    assert body["thinking"] == {"type": "adaptive"} and body["output_config"] == {"effort": "low"}


def test_an_effort_anthropic_has_no_budget_for_is_left_out() -> None:
    body, left_out = translate(reasoning_effort="extreme")
    assert "thinking" not in body and left_out == ["reasoning_effort"]


def test_with_thinking_the_sampling_anthropic_refuses_is_left_out() -> None:
    body, left_out = translate(reasoning_effort="low", temperature=0.5, top_p=0.9, top_k=5)
    assert not {"temperature", "top_p", "top_k"} & set(body)
    assert left_out == ["temperature", "top_p", "top_k"]
    body, left_out = translate(reasoning_effort="low", temperature=1, top_p=0.97)
    assert (body["temperature"], body["top_p"], left_out) == (1.0, 0.97, [])


def test_function_tools_take_anthropics_flat_shape_and_keep_their_cache_marks() -> None:
    bare = {"type": "function", "function": {"name": "now", "strict": True}, "cache_control": {"type": "ephemeral"}}
    loose = {"type": "function", "function": {"name": "f", "parameters": {"properties": {}}}}
    body, left_out = translate(tools=[WEATHER, bare, {"type": "custom", "custom": {"name": "c"}}, loose])
    assert body["tools"] == [
        {"name": "get_weather", "description": "Weather of a city", "input_schema": CITY},
        {"name": "now", "input_schema": {"type": "object", "properties": {}}, "cache_control": {"type": "ephemeral"}},
        {"name": "f", "input_schema": {"properties": {}, "type": "object"}},
    ]  # fmt: skip
    assert left_out == ["tools[].function.strict", "tools[2]"]


@pytest.mark.parametrize(
    ("options", "choice"),
    [
        ({"tool_choice": "auto"}, {"type": "auto"}),
        ({"tool_choice": "none"}, {"type": "none"}),
        ({"tool_choice": "required"}, {"type": "any"}),
        ({"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
         {"type": "tool", "name": "get_weather"}),
        ({"parallel_tool_calls": False}, {"type": "auto", "disable_parallel_tool_use": True}),
        ({"tool_choice": "required", "parallel_tool_calls": False}, {"type": "any", "disable_parallel_tool_use": True}),
        ({"tool_choice": "none", "parallel_tool_calls": False}, {"type": "none"}),
        ({"parallel_tool_calls": True}, None),
    ],
)  # fmt: skip
def test_tool_choice_and_parallel_tool_calls_are_anthropics_tool_choice(
    options: dict[str, Any], choice: dict[str, Any] | None
) -> None:
    body, left_out = translate(tools=[WEATHER], **options)
    assert body.get("tool_choice") == choice and left_out == []


def test_a_tool_choice_without_tools_is_left_out() -> None:
    body, left_out = translate(tool_choice="required", parallel_tool_calls=False)
    assert "tool_choice" not in body and left_out == ["tool_choice"]


def test_web_search_options_are_anthropics_web_search_tool() -> None:
    location = {"type": "approximate", "approximate": {"city": "Paris", "country": "FR", "extra": 1}}
    body, _ = translate(web_search_options={"user_location": location, "search_context_size": "low"})
    assert body["tools"] == [
        {"type": "web_search_20250305", "name": "web_search",
         "user_location": {"type": "approximate", "city": "Paris", "country": "FR"}},
    ]  # fmt: skip


def test_a_conversation_with_everything_in_it_is_a_body_anthropic_takes() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "developer", "content": "Use tools."},
        {"role": "user", "name": "jane", "content": [
            {"type": "text", "text": "What is this?", "cache_control": {"type": "ephemeral"}},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBER", "filename": "a.pdf"}}]},
        {"role": "assistant", "content": "", "reasoning_content": "x", "thinking_blocks": [
            {"type": "thinking", "thinking": "x", "signature": "sig"}, {"type": "redacted_thinking", "data": "r"}],
         "tool_calls": [{"id": "call:1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call:1", "content": [{"type": "text", "text": "sunny"}]},
    ]  # fmt: skip
    options = {"tools": [WEATHER], "tool_choice": "auto", "reasoning_effort": "low", "user": "u", "stop": "X"}
    body, left_out = to_anthropic(Completion(messages, "claude-x", options=options))
    shapes.check(body)
    assert left_out == ["messages[].name"]
    assert [turn["role"] for turn in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"][2]["id"] == body["messages"][2]["content"][0]["tool_use_id"]
