"""Values read from an Anthropic request, refused in the words of Anthropic's own validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gateway.errors import Invalid
from gateway.upstreams.anthropic.checks import block_string, block_type, field, items, mapping, number, string


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (lambda: field({}, "max_tokens", ""), "max_tokens: Field required"),
        (lambda: field({}, "name", "tools.0.custom"), "tools.0.custom.name: Field required"),
        (lambda: string(1, "model"), "model: Input should be a valid string"),
        (lambda: mapping([], "metadata"), "metadata: Input should be a valid dictionary"),
        (lambda: items("x", "messages"), "messages: Input should be a valid list"),
        (lambda: items(1, "system", or_string=True), "system: Input should be a valid string or list"),
        (lambda: number("1", "top_p"), "top_p: Input should be a valid number"),
        (lambda: number(False, "top_p"), "top_p: Input should be a valid number"),
        (lambda: block_type({"text": "x"}, "messages.0.content.1"), "messages.0.content.1.type: Field required"),
        (lambda: block_string({"type": "tool_use"}, "messages.1.content.0", "tool_use", "id"),
         "messages.1.content.0.tool_use.id: Field required"),
    ],
)  # fmt: skip
def test_a_malformed_value_is_refused_naming_its_path(check: Callable[[], Any], message: str) -> None:
    with pytest.raises(Invalid) as refused:
        check()
    assert refused.value.message == message and refused.value.status == 422


def test_well_formed_values_come_back_as_they_are() -> None:
    assert field({"a": None}, "a", "") is None
    assert (string("s", "x"), mapping({}, "x"), items([], "x"), number(2.5, "x"), number(None, "x")) == (
        "s",
        {},
        [],
        2.5,
        None,
    )
    assert block_type({"type": "text"}, "x") == "text"
