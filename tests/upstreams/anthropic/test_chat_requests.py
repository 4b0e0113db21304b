"""Anthropic Messages requests read as chat requests: each field as its chat name, fields not read
named and never refused, malformed values of read fields refused with Anthropic's paths, text
bounded and storable; and a chat request sent to Anthropic and read back is the same request."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import Invalid
from gateway.upstreams.anthropic.chat_requests import READ, to_chat
from gateway.upstreams.anthropic.requests import to_anthropic
from gateway.upstreams.llm import Completion

SIGNED = {"type": "thinking", "thinking": "Think first.", "signature": "EqQBsig=="}
REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgB"}
CITY = {"type": "object", "properties": {"city": {"type": "string"}}}
WEATHER: dict[str, Any] = {"name": "get_weather", "description": "Weather of a city", "input_schema": CITY}
SERVER_TOOLS = [{"type": "web_search_20250305", "name": "web_search"}, {"type": "bash_20250124", "name": "bash"}]
OUTPUT = {"type": "json_schema", "json_schema": {"name": "output", "schema": CITY, "strict": True}}
CHAT_WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather of a city", "parameters": CITY},
}


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "claude-x", "max_tokens": 1024, "messages": [{"role": "user", "content": "Hi"}], **fields}


def test_a_request_is_its_model_messages_system_first_and_max_completion_tokens() -> None:
    request = to_chat(
        body(system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Cite."}], stream=True), 1000
    )
    assert request.model == "claude-x" and request.stream
    assert request.system == "Be brief.\n\nCite."
    assert request.messages == [{"role": "system", "content": "Be brief.\n\nCite."}, {"role": "user", "content": "Hi"}]
    assert request.options == {"max_completion_tokens": 1024}
    assert request.left_out == []
    plain = to_chat(body(system="Plain."), 1000)
    assert plain.system == "Plain." and not plain.stream


@pytest.mark.parametrize(
    ("fields", "options", "left_out"),
    [
        ({"max_tokens": 0}, {}, ["max_tokens"]),
        ({"stop_sequences": ["END", "\n\nHuman:"]}, {"stop": ["END", "\n\nHuman:"]}, []),
        ({"stop_sequences": []}, {}, []),
        ({"temperature": 0.3, "top_p": 1}, {"temperature": 0.3, "top_p": 1}, []),
        ({"metadata": {"user_id": "u-1"}}, {"safety_identifier": "u-1"}, []),
        ({"metadata": {"user_id": None}}, {}, []),
        ({"tools": [WEATHER]}, {"tools": [CHAT_WEATHER]}, []),
        ({"tools": [{**WEATHER, "type": "custom", "strict": True, "cache_control": {"type": "ephemeral"}}]},
         {"tools": [{"type": "function", "function": {**CHAT_WEATHER["function"], "strict": True}}]}, []),
        ({"tools": [WEATHER, *SERVER_TOOLS]},
         {"tools": [CHAT_WEATHER]}, ["tools.1 (web_search)", "tools.2 (bash)"]),
        ({"tools": [WEATHER], "tool_choice": {"type": "auto"}}, {"tools": [CHAT_WEATHER], "tool_choice": "auto"}, []),
        ({"tools": [WEATHER], "tool_choice": {"type": "any", "disable_parallel_tool_use": True}},
         {"tools": [CHAT_WEATHER], "tool_choice": "required", "parallel_tool_calls": False}, []),
        ({"tools": [WEATHER], "tool_choice": {"type": "tool", "name": "get_weather"}},
         {"tools": [CHAT_WEATHER], "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}, []),
        ({"tools": [WEATHER], "tool_choice": {"type": "none"}}, {"tools": [CHAT_WEATHER], "tool_choice": "none"}, []),
        ({"tool_choice": {"type": "auto"}}, {}, ["tool_choice"]),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, {"reasoning_effort": "low"}, []),
        ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, {"reasoning_effort": "medium"}, []),
        ({"thinking": {"type": "enabled", "budget_tokens": 10000}}, {"reasoning_effort": "high"}, []),
        ({"thinking": {"type": "adaptive", "display": "omitted"}, "output_config": {"effort": "xhigh"}},
         {"reasoning_effort": "xhigh"}, []),
        ({"thinking": {"type": "adaptive"}}, {}, []),
        ({"thinking": {"type": "disabled"}, "output_config": {"effort": "low"}}, {}, []),
        ({"output_config": {"format": {"type": "json_schema", "schema": CITY}, "task_budget": 5}},
         {"response_format": OUTPUT},
         ["output_config.task_budget"]),
        ({"top_k": 5, "cache_control": {"type": "ephemeral"}, "context_management": {"edits": []}, "container": "c",
          "service_tier": "auto", "mcp_servers": [], "a_field_of_tomorrow": {"x": 1}},
         {}, ["top_k", "cache_control", "context_management", "container", "service_tier", "mcp_servers",
              "a_field_of_tomorrow"]),
    ],
)  # fmt: skip
def test_each_field_is_its_chat_option_or_named_as_left_out(
    fields: dict[str, Any], options: dict[str, Any], left_out: list[str]
) -> None:
    request = to_chat(body(**fields), 1000)
    assert {name: value for name, value in request.options.items() if name != "max_completion_tokens"} == options
    assert request.left_out == left_out


def test_a_user_id_longer_than_openai_takes_is_its_digest() -> None:
    user = '{"device_id":"' + "e4" * 32 + '","account_uuid":"","session_id":"650baad7-8e56-4020-8811-411d02e57a04"}'
    request = to_chat(body(metadata={"user_id": user}), 1000)
    assert request.options["safety_identifier"] == hashlib.sha256(user.encode()).hexdigest()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"model": None}, "model: Input should be a valid string"),
        ({"max_tokens": None}, "max_tokens: Input should be a valid integer"),
        ({"max_tokens": "10"}, "max_tokens: Input should be a valid integer"),
        ({"max_tokens": True}, "max_tokens: Input should be a valid integer"),
        ({"max_tokens": -1}, "max_tokens: Input should be greater than or equal to 0"),
        ({"system": 3}, "system: Input should be a valid string or list"),
        ({"system": [{"type": "image"}]}, "system.0.type: Input should be 'text'"),
        ({"stream": "yes"}, "stream: Input should be a valid boolean"),
        ({"stop_sequences": "END"}, "stop_sequences: Input should be a valid list"),
        ({"stop_sequences": ["END", 1]}, "stop_sequences.1: Input should be a valid string"),
        ({"temperature": "hot"}, "temperature: Input should be a valid number"),
        ({"top_p": True}, "top_p: Input should be a valid number"),
        ({"metadata": ["u"]}, "metadata: Input should be a valid dictionary"),
        ({"metadata": {"user_id": 5}}, "metadata.user_id: Input should be a valid string"),
        ({"tools": {"name": "f"}}, "tools: Input should be a valid list"),
        ({"tools": [{"input_schema": CITY}]}, "tools.0.custom.name: Field required"),
        ({"tools": [{"name": "f"}]}, "tools.0.custom.input_schema: Field required"),
        ({"tools": [{"name": "f", "input_schema": CITY, "description": 3}]},
         "tools.0.custom.description: Input should be a valid string"),
        ({"tool_choice": "auto"}, "tool_choice: Input should be a valid dictionary"),
        ({"tool_choice": {"type": "required"}}, "tool_choice: Input tag 'required' found using 'type' does not match"),
        ({"tool_choice": {"type": "tool"}}, "tool_choice.tool.name: Field required"),
        ({"tool_choice": {"type": "auto", "disable_parallel_tool_use": "yes"}},
         "tool_choice.auto.disable_parallel_tool_use: Input should be a valid boolean"),
        ({"thinking": {"type": "on"}}, "thinking: Input tag 'on' found using 'type' does not match"),
        ({"thinking": {"type": "enabled"}}, "thinking.enabled.budget_tokens: Field required"),
        ({"output_config": {"effort": "huge"}}, "output_config.effort: Input should be 'low', 'medium'"),
        ({"output_config": {"format": {"type": "json_object"}}}, "output_config.format.type: Input should be"),
        ({"output_config": {"format": {"type": "json_schema"}}}, "output_config.format.schema: Field required"),
        ({"messages": [{"role": "user", "content": "\ud800"}]}, "messages[0].content must be valid Unicode text"),
    ],
)  # fmt: skip
def test_a_malformed_value_of_a_field_read_is_refused_with_anthropics_path(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(Invalid) as refused:
        to_chat(body(**fields), 1000)
    assert refused.value.message.startswith(message)


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
names = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(lambda name: name not in READ)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(names, values, max_size=4), st.dictionaries(names, values, max_size=3))
def test_fields_not_read_are_never_refused_anywhere_and_those_on_top_are_named(
    top: dict[str, Any], inner: dict[str, Any]
) -> None:
    inner = {name: value for name, value in inner.items() if name not in ("type", "text", "role", "content")}
    messages = [{"role": "user", "content": [{"type": "text", "text": "Hi", **inner}], **inner}]
    request = to_chat({**body(messages=messages), **top}, 1000)
    assert request.messages == [{"role": "user", "content": "Hi"}]
    assert request.left_out == list(top)


@pytest.mark.parametrize("name", ["model", "max_tokens", "messages"])
def test_a_required_field_missing_is_refused_as_anthropic_refuses_it(name: str) -> None:
    fields = body()
    del fields[name]
    with pytest.raises(Invalid, match=f"^{name}: Field required$"):
        to_chat(fields, 1000)


def test_the_text_of_messages_and_system_together_is_bounded() -> None:
    fields = body(system="12345", messages=[{"role": "user", "content": [{"type": "text", "text": "67890"}]}])
    assert to_chat(fields, 10).messages[1] == {"role": "user", "content": "67890"}
    with pytest.raises(Invalid, match="longer than 9 characters"):
        to_chat(fields, 9)


CHAT: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": "Checking.",
        "reasoning_content": "Think first.",
        "thinking_blocks": [SIGNED, REDACTED],
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Lyon"}'}},
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    {"role": "tool", "tool_call_id": "call_2", "content": "rainy"},
    {"role": "user", "content": "Thanks!"},
    {"role": "assistant", "content": "You're welcome."},
    {"role": "user", "content": [{"type": "text", "text": "And this?"},
                                 {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}}]},
]  # fmt: skip


def test_a_chat_request_sent_to_anthropic_and_read_back_is_the_same_request() -> None:
    options = {
        "max_completion_tokens": 5000,
        "stop": ["END"],
        "temperature": 0.5,
        "top_p": 0.9,
        "tools": [CHAT_WEATHER],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "safety_identifier": "u-1",
        "response_format": OUTPUT,
    }
    sent, left_out = to_anthropic(Completion(CHAT, "claude-x", options=options))
    request = to_chat({**sent, "stream": True}, 10_000)
    assert left_out == [] and request.left_out == []
    assert request.messages == CHAT
    assert request.options == options


@pytest.mark.parametrize(
    ("effort", "back"), [("minimal", "low"), ("low", "low"), ("medium", "medium"), ("high", "high")]
)
def test_a_reasoning_effort_sent_as_a_budget_comes_back_as_itself_minimal_as_low(effort: str, back: str) -> None:
    sent, _ = to_anthropic(Completion(CHAT, "claude-x", options={"reasoning_effort": effort}))
    assert to_chat(sent, 10_000).options["reasoning_effort"] == back
