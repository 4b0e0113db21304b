"""Fields: each parser and its API description come from the same bounds, and an unknown field is
refused by name."""

from __future__ import annotations

import pytest

from gateway import inputs
from gateway.errors import Invalid


def test_a_fields_parser_accepts_what_its_schema_describes_and_names_itself_when_it_refuses() -> None:
    limit = inputs.integer("limit", 1, 100, default=10)
    assert limit.schema == {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}
    assert limit.parse("7") == 7 and limit.parse(100) == 100
    for bad in (0, 101, "x", True, 1.5):
        with pytest.raises(Invalid, match=r"^limit "):
            limit.parse(bad)
    prompt = inputs.text("prompt", 5, required=True, non_blank=True)
    assert prompt.schema == {"type": "string", "maxLength": 5, "minLength": 1, "pattern": r"\S"}
    assert prompt.parse("hi") == "hi"
    for bad in ("      ", "toolong", 3, "nul\x00"):
        with pytest.raises(Invalid, match=r"^prompt "):
            prompt.parse(bad)


def test_fields_are_defaulted_and_unknown_names_refused_so_typos_do_not_pass_silently() -> None:
    fields = (inputs.text("prompt", 10, required=True), inputs.choice("stream_format", ("text", "sse"), "text"))
    assert inputs.parse_fields(fields, {"prompt": "hi"}) == {"prompt": "hi", "stream_format": "text"}
    with pytest.raises(Invalid, match="unknown field: promt"):
        inputs.parse_fields(fields, {"prompt": "hi", "promt": "x"})
    with pytest.raises(Invalid, match="prompt is required"):
        inputs.parse_fields(fields, {"prompt": None})
    assert inputs.parse_fields(fields, {"prompt": "hi", "api_key": "k"}, strict=False)["prompt"] == "hi"
