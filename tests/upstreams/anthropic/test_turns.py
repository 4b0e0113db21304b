"""Chat messages as Anthropic's system and turns: each kind of part, system messages hoisted,
assistant turns of signed thinking, text and tool calls, tool results merged into user turns with
the ids made the same on both sides, empty turns dropped, content that cannot go refused."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from gateway.errors import Invalid
from gateway.upstreams.anthropic.terms import tool_id
from gateway.upstreams.anthropic.turns import to_messages

SIGNED = {"type": "thinking", "thinking": "Think first.", "signature": "EqQBsig=="}
EPHEMERAL = {"type": "ephemeral"}


def user_turn(*parts: dict[str, Any]) -> Any:
    """The one user turn that these parts become."""
    system, turns, _ = to_messages([{"role": "user", "content": list(parts)}])
    assert system == [] and len(turns) == 1 and turns[0]["role"] == "user"
    return turns[0]["content"]


@pytest.mark.parametrize(
    ("part", "block"),
    [
        ({"type": "text", "text": "hi", "cache_control": EPHEMERAL},
         {"type": "text", "text": "hi", "cache_control": EPHEMERAL}),
        ({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR", "detail": "high"}},
         {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}}),
        ({"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
         {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}}),
        ({"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBER", "filename": "a.pdf"}},
         {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"},
          "title": "a.pdf"}),
        ({"type": "file", "file": {"file_data": "JVBER"}},
         {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"}}),
        ({"type": "file", "file": {"file_data": "data:text/plain;base64," + base64.b64encode("ça".encode()).decode()}},
         {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "ça"}}),
    ],
)  # fmt: skip
def test_each_user_part_is_its_anthropic_block(part: dict[str, Any], block: dict[str, Any]) -> None:
    assert user_turn(part, {"type": "text", "text": "and"}) == [block, {"type": "text", "text": "and"}]


@pytest.mark.parametrize(
    ("part", "message"),
    [
        ({"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0"}}, "not 'image/bmp'"),
        ({"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}}, "must be base64"),
        ({"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}}, "http(s) URL or a data: URI"),
        ({"type": "file", "file": {"file_id": "file-abc"}}, "not an OpenAI file id"),
        ({"type": "file", "file": {"file_data": "data:application/zip;base64,UEs"}}, "not 'application/zip'"),
        ({"type": "file", "file": {"file_data": "data:text/plain;base64,@@@"}}, "not base64 of UTF-8 text"),
        ({"type": "input_audio", "input_audio": {"data": "AAA", "format": "wav"}}, "'input_audio' cannot go"),
    ],
)
def test_content_anthropic_cannot_read_is_refused_naming_it(part: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid) as refused:
        user_turn(part)
    assert refused.value.message.startswith("messages[0].content[0]") and message in refused.value.message


def test_a_lone_text_is_a_plain_string_and_empty_text_is_left_out() -> None:
    assert user_turn({"type": "text", "text": "hi"}) == "hi"
    assert user_turn({"type": "text", "text": ""}, {"type": "text", "text": "x", "cache_control": EPHEMERAL}) == [
        {"type": "text", "text": "x", "cache_control": EPHEMERAL}
    ]


def test_system_and_developer_messages_are_hoisted_each_a_block_with_their_cache_marks() -> None:
    system, turns, _ = to_messages(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Rules.", "cache_control": EPHEMERAL}]},
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "Later.", "cache_control": EPHEMERAL},
        ]
    )
    assert system == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Rules.", "cache_control": EPHEMERAL},
        {"type": "text", "text": "Later.", "cache_control": EPHEMERAL},
    ]
    assert turns == [{"role": "user", "content": "hi"}]


def test_an_assistant_turn_is_signed_thinking_then_text_then_tool_uses_with_ids_anthropic_takes() -> None:
    assistant = {
        "role": "assistant",
        "name": "bot",
        "content": [{"type": "text", "text": "Looking."}, {"type": "refusal", "refusal": "Not that."}],
        "reasoning_content": "Think first.",
        "thinking_blocks": [SIGNED, {"type": "thinking", "thinking": "unsigned"}],
        "tool_calls": [
            {"id": "functions.get_weather:0", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
            {"id": "call_b", "type": "function", "function": {"name": "now", "arguments": "not json"}},
        ],
    }  # fmt: skip
    _, turns, named = to_messages([{"role": "user", "content": "weather?"}, assistant])
    assert named
    assert turns[1] == {
        "role": "assistant",
        "content": [
            SIGNED,
            {"type": "text", "text": "Looking."},
            {"type": "text", "text": "Not that."},
            {"type": "tool_use", "id": tool_id("functions.get_weather:0"), "name": "get_weather",
             "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_b", "name": "now", "input": {}},
        ],
    }  # fmt: skip


def test_an_assistant_turn_with_nothing_to_send_is_dropped() -> None:
    _, turns, _ = to_messages(
        [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": None, "reasoning_content": "unsigned thoughts"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "b"},
        ]
    )
    assert turns == [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]


def test_tool_results_are_one_user_turn_first_with_the_ids_of_their_calls_and_the_next_user_message_after() -> None:
    calls = [
        {"id": "functions.a:0", "type": "function", "function": {"name": "a", "arguments": "{}"}},
        {"id": "functions.b:1", "type": "function", "function": {"name": "b", "arguments": "{}"}},
    ]
    _, turns, _ = to_messages(
        [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": None, "tool_calls": calls},
            {"role": "tool", "tool_call_id": "functions.a:0", "content": "sunny", "cache_control": EPHEMERAL},
            {"role": "user", "content": "thanks"},
            {"role": "tool", "tool_call_id": "functions.b:1",
             "content": [{"type": "text", "text": "12:00"}, {"type": "image_url", "image_url": {"url": "https://x/c.png"}}]},
            {"role": "tool", "tool_call_id": "call_c", "content": ""},
        ]
    )  # fmt: skip
    uses = [block["id"] for block in turns[1]["content"]]
    assert turns[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": uses[0], "content": "sunny", "cache_control": EPHEMERAL},
            {"type": "tool_result", "tool_use_id": uses[1], "content": [
                {"type": "text", "text": "12:00"}, {"type": "image", "source": {"type": "url", "url": "https://x/c.png"}}]},
            {"type": "tool_result", "tool_use_id": "call_c"},
            {"type": "text", "text": "thanks"},
        ],
    }  # fmt: skip
    assert len(turns) == 3


def test_a_legacy_function_call_and_its_result_share_a_made_up_id() -> None:
    _, turns, named = to_messages(
        [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": '{"x": 1}'}},
            {"role": "function", "name": "f", "content": "done"},
        ]
    )
    use = turns[1]["content"][0]
    assert use == {"type": "tool_use", "id": "call_1", "name": "f", "input": {"x": 1}}
    assert turns[2]["content"] == [{"type": "tool_result", "tool_use_id": "call_1", "content": "done"}]
    assert not named  # a function message's name is its function's, carried by the id


def test_messages_of_system_alone_are_refused() -> None:
    with pytest.raises(Invalid, match="at least one user or assistant message"):
        to_messages([{"role": "system", "content": "Be brief."}])
