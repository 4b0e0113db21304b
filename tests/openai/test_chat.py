"""OpenAI chat requests checked for shape only (what OpenAI documents passes, new kinds of part
too), large binary parts kept in the record by type, size and hash, and given back as text notes."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import Invalid
from gateway.history import messages as record
from gateway.openai import chat


def test_every_documented_shape_of_message_passes_untouched() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "name": "ada", "content": [
            {"type": "text", "text": "Look"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
            {"type": "file", "file": {"file_id": "file-1"}},
            {"type": "a_kind_of_part_openai_adds_later", "a_kind_of_part_openai_adds_later": {"x": 1}},
        ]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "done"}]},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]},
    ]  # fmt: skip
    assert chat.check_messages(messages, 1000) is messages
    assert record.prompt_of(messages) == "Look" and record.system_of(messages) == "Be brief."


@pytest.mark.parametrize(
    ("messages", "mentions"),
    [
        ([], "messages must be a non-empty list"),
        ([{"role": "user"}], "messages[0].content is required"),
        ([{"role": "assistant"}], "messages[0].content is required"),
        ([{"role": "user", "content": 3}], "messages[0].content must be a string or a list"),
        ([{"role": "user", "content": [{"text": "no type"}]}], "messages[0].content[0].type"),
        ([{"role": "user", "content": [{"type": "text"}]}], "must carry 'text'"),
        ([{"role": "user", "content": [{"type": "file", "file": {}}]}], "file_data, file_id or filename"),
        ([{"role": "tool", "content": "x", "tool_call_id": 5}], "messages[0].tool_call_id must be a string"),
        ([{"role": "user", "content": "x", "name": 1}], "messages[0].name"),
        ([{"role": "user", "content": "lone \ud800"}], "messages[0].content"),
        ([{"role": "user", "content": "x" * 11}], "longer than 10"),
    ],
)
def test_a_bad_shape_is_refused_naming_where_it_is(messages: Any, mentions: str) -> None:
    with pytest.raises(Invalid) as caught:
        chat.check_messages(messages, 10)
    assert mentions in caught.value.message


def test_function_tools_need_a_name_other_kinds_of_tool_pass() -> None:
    assert chat.check_tools([{"type": "web_search"}, {"type": "function", "function": {"name": "get_x"}}])
    for bad in ([{"type": "function", "function": {}}], [{"type": "function", "function": {"name": "has space"}}]):
        with pytest.raises(Invalid, match=r"tools\[0\].function.name"):
            chat.check_tools(bad)
