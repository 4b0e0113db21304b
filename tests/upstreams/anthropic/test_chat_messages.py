"""Anthropic's messages read as chat messages: each kind of block, tool results as tool messages
before the rest of their turn, assistant turns with tool calls and thinking kept, system turns,
blocks not read named, and malformed blocks refused with the path Anthropic names."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import Invalid
from gateway.upstreams.anthropic.chat_messages import system_text, to_chat_messages

SIGNED = {"type": "thinking", "thinking": "Think first.", "signature": "EqQBsig=="}
REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgB"}
EPHEMERAL = {"type": "ephemeral"}


def read(messages: Any) -> tuple[list[dict[str, Any]], list[str]]:
    left_out: list[str] = []
    return to_chat_messages(messages, left_out), left_out


@pytest.mark.parametrize(
    ("block", "part"),
    [
        ({"type": "text", "text": "hi", "cache_control": EPHEMERAL, "citations": None},
         {"type": "text", "text": "hi"}),
        ({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
         {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}}),
        ({"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
         {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}),
        ({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"},
          "title": "a.pdf"},
         {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBER", "filename": "a.pdf"}}),
        ({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"}},
         {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBER", "filename": "document.pdf"}}),
        ({"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Body."}, "title": "T"},
         {"type": "text", "text": "T\n\nBody."}),
    ],
)  # fmt: skip
def test_each_user_block_is_its_chat_part(block: dict[str, Any], part: dict[str, Any]) -> None:
    messages, left_out = read([{"role": "user", "content": [block, {"type": "text", "text": "and"}]}])
    assert messages == [{"role": "user", "content": [part, {"type": "text", "text": "and"}]}] and left_out == []


def test_a_lone_text_block_is_plain_text_as_a_string_is() -> None:
    messages, _ = read(
        [{"role": "user", "content": [{"type": "text", "text": "hi"}]}, {"role": "assistant", "content": "yo"}]
    )
    assert messages == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]


def test_tool_results_are_tool_messages_in_order_before_the_rest_of_the_turn_with_their_images_after() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://x/c.png"}}
    turn = {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": "sunny", "cache_control": EPHEMERAL},
            {"type": "tool_result", "tool_use_id": "toolu_b", "is_error": True,
             "content": [{"type": "text", "text": "no such"}, {"type": "text", "text": "city"}, image]},
            {"type": "tool_result", "tool_use_id": "toolu_c"},
            {"type": "text", "text": "thanks"},
        ],
    }  # fmt: skip
    messages, _ = read([turn])
    assert messages == [
        {"role": "tool", "tool_call_id": "toolu_a", "content": "sunny"},
        {"role": "tool", "tool_call_id": "toolu_b", "content": "Error: no such\ncity"},
        {"role": "tool", "tool_call_id": "toolu_c", "content": ""},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/c.png"}},
                                     {"type": "text", "text": "thanks"}]},
    ]  # fmt: skip


def test_an_assistant_turn_is_its_text_tool_calls_reasoning_and_thinking_blocks() -> None:
    turn = {
        "role": "assistant",
        "content": [
            SIGNED,
            REDACTED,
            {"type": "text", "text": "Let me "},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris", "n": [1, 2]}},
            {"type": "text", "text": "check."},
        ],
    }
    messages, _ = read([turn])
    assert messages == [
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [{"id": "toolu_1", "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris","n":[1,2]}'}}],
            "reasoning_content": "Think first.",
            "thinking_blocks": [SIGNED, REDACTED],
        }
    ]  # fmt: skip


def test_an_assistant_turn_of_tool_calls_alone_has_no_content() -> None:
    messages, _ = read([{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}])
    assert messages[0]["content"] is None and messages[0]["tool_calls"][0]["function"]["arguments"] == "{}"


def test_system_turns_are_system_messages_where_they_stand_and_empty_ones_are_dropped() -> None:
    messages, left_out = read(
        [
            {"role": "user", "content": "hi"},
            {"role": "system", "content": [{"type": "text", "text": "Env."}, {"type": "text", "text": "Rules."}]},
            {"role": "system", "content": [], "output_config": {"effort": "medium"}},
            {"role": "assistant", "content": "yo"},
        ]
    )
    assert messages == [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "Env.\n\nRules."},
        {"role": "assistant", "content": "yo"},
    ]
    assert left_out == []
    assert system_text("Plain.", "system") == "Plain."


def test_blocks_of_types_not_read_are_named_as_left_out() -> None:
    messages, left_out = read(
        [
            {"role": "user", "content": [{"type": "search_result", "source": "s"}, {"type": "text", "text": "q"}]},
            {"role": "assistant", "content": [
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
                {"type": "text", "text": "Found it."}]},
        ]
    )  # fmt: skip
    assert messages == [{"role": "user", "content": "q"}, {"role": "assistant", "content": "Found it."}]
    assert left_out == [
        "messages.0.content.0 (search_result)",
        "messages.1.content.0 (server_tool_use)",
        "messages.1.content.1 (web_search_tool_result)",
    ]


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ("hi", "messages: Input should be a valid list"),
        (["hi"], "messages.0: Input should be a valid dictionary"),
        ([{"content": "hi"}], "messages.0.role: Field required"),
        ([{"role": "tool", "content": "hi"}], "messages.0.role: Input should be 'user', 'assistant' or 'system'"),
        ([{"role": "user"}], "messages.0.content: Field required"),
        ([{"role": "user", "content": 3}], "messages.0.content: Input should be a valid string or list"),
        ([{"role": "user", "content": [{"text": "x"}]}], "messages.0.content.0.type: Field required"),
        ([{"role": "user", "content": ["x"]}], "messages.0.content.0: Input should be a valid dictionary"),
        ([{"role": "user", "content": [{"type": "text", "text": 3}]}],
         "messages.0.content.0.text.text: Input should be a valid string"),
        ([{"role": "user", "content": [{"type": "image"}]}], "messages.0.content.0.image.source: Field required"),
        ([{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "data": "x"}}]}],
         "messages.0.content.0.image.source.media_type: Field required"),
        ([{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}],
         "messages.0.content.0.image.source.type: an image source of type 'file' cannot reach"),
        ([{"role": "user", "content": [{"type": "document", "source": {"type": "url", "url": "https://x"}}]}],
         "messages.0.content.0.document.source.type: a document source of type 'url' cannot reach"),
        ([{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}],
         "messages.0.content.0.tool_result.tool_use_id: Field required"),
        ([{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "is_error": "yes"}]}],
         "messages.0.content.0.tool_result.is_error: Input should be a valid boolean"),
        ([{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text"}]}]}],
         "messages.0.content.0.tool_result.content.0.text.text: Field required"),
        ([{"role": "assistant", "content": [{"type": "tool_use", "name": "f", "input": {}}]}],
         "messages.0.content.0.tool_use.id: Field required"),
        ([{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": "{}"}]}],
         "messages.0.content.0.tool_use.input: Input should be a valid dictionary"),
        ([{"role": "assistant", "content": [{"type": "thinking", "thinking": "x"}]}],
         "messages.0.content.0.thinking.signature: Field required"),
        ([{"role": "assistant", "content": [{"type": "redacted_thinking", "data": 1}]}],
         "messages.0.content.0.redacted_thinking.data: Input should be a valid string"),
        ([{"role": "system", "content": [{"type": "image"}]}], "messages.0.content.0.type: Input should be 'text'"),
    ],
)  # fmt: skip
def test_a_malformed_value_is_refused_with_the_path_anthropic_names(messages: Any, message: str) -> None:
    with pytest.raises(Invalid) as refused:
        read(messages)
    assert refused.value.message.startswith(message)
