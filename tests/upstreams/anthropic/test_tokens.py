"""The estimate of a Messages request's input tokens: four characters a token over every text,
tool schema and tool input, fixed amounts for images and documents, framing per message; any
shape gets a number."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.upstreams.anthropic.tokens import DOCUMENT_TOKENS, IMAGE_TOKENS, estimate_input_tokens

FRAMING = 3  # a message's, and the reply's


@pytest.mark.parametrize(
    ("content", "tokens"),
    [
        ("abcd" * 10, 10),
        ([{"type": "text", "text": "abcd" * 10}, {"type": "text", "text": "abc"}], 11),
        ([{"type": "thinking", "thinking": "abcd", "signature": "not counted"}], 1),
        ([{"type": "tool_use", "id": "t", "name": "abcd", "input": {"ab": "cd"}}], 4),  # "abcd", '{"ab":"cd"}'
        ([{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "abcdabcd"}]}], 2),
        ([{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "x" * 999}}], IMAGE_TOKENS),
        ([{"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "x"}}],
         DOCUMENT_TOKENS),
        ([{"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "abcd" * 5}}], 5),
    ],
)  # fmt: skip
def test_each_kind_of_content_counts_by_the_rule(content: Any, tokens: int) -> None:
    body = {"messages": [{"role": "user", "content": content}]}
    assert estimate_input_tokens(body) == tokens + 2 * FRAMING


def test_system_and_tools_count_too_their_characters_added_up_first() -> None:
    tool = {"name": "abcd", "description": "abcd", "input_schema": {"type": "object"}}  # '{"type":"object"}': 17
    body = {"system": [{"type": "text", "text": "abcd" * 3}], "messages": [], "tools": [tool]}
    assert estimate_input_tokens(body) == 10 + FRAMING  # ceil((12 + 4 + 4 + 17) / 4)
    server = {"type": "web_search_20250305", "name": "web_search"}
    assert estimate_input_tokens({"tools": [server]}) > FRAMING


@pytest.mark.parametrize(
    "body",
    [{}, {"messages": "hi", "tools": 5, "system": 3}, {"messages": [None, {"content": [None, {"type": 1}]}]},
     {"messages": [{"content": [{"type": "document", "source": "x"}, {"type": "tool_use", "input": {1, 2}}]}]}],
)  # fmt: skip
def test_any_shape_gets_a_number(body: dict[str, Any]) -> None:
    assert estimate_input_tokens(body) >= FRAMING
