"""What the two APIs name differently: stop and finish reasons both ways, thinking budgets as
efforts, tool-call ids Anthropic takes, and usage with its cache counts both ways."""

from __future__ import annotations

import re

import pytest

from gateway.upstreams.anthropic.terms import (
    anthropic_usage,
    chat_usage,
    effort_of,
    finish_reason,
    openai_usage_of,
    signed_blocks,
    stop_reason,
    tool_id,
    tool_input,
    usage_of,
)
from gateway.upstreams.llm import Usage
from gateway.upstreams.llm import usage_of as gateway_usage_of


@pytest.mark.parametrize(
    ("anthropic", "openai"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "length"),
        ("compaction", "length"),
        ("a_reason_of_tomorrow", "stop"),
        (None, None),
    ],
)
def test_each_stop_reason_is_openais_finish_reason(anthropic: str | None, openai: str | None) -> None:
    assert finish_reason(anthropic) == openai


@pytest.mark.parametrize(
    ("openai", "anthropic"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "refusal"),
        ("something_else", "end_turn"),
        (None, "end_turn"),
    ],
)
def test_each_finish_reason_is_anthropics_stop_reason(openai: str | None, anthropic: str) -> None:
    assert stop_reason(openai) == anthropic


@pytest.mark.parametrize(
    ("budget", "effort"),
    [(0, "minimal"), (128, "minimal"), (129, "low"), (1024, "low"), (1025, "medium"), (2048, "medium"),
     (2049, "high"), (32000, "high")],
)  # fmt: skip
def test_a_thinking_budget_is_the_effort_of_litellms_thresholds(budget: int, effort: str) -> None:
    assert effort_of(budget) == effort


def test_tool_ids_fit_anthropics_pattern_the_same_way_every_time_and_never_two_as_one() -> None:
    pattern = re.compile(r"[a-zA-Z0-9_-]+")
    assert tool_id("toolu_01A-b") == "toolu_01A-b"
    others = ["functions.Bash:0", "functions:Bash.0", "functions_Bash_0", "", "call é 1", "a" * 300]
    made = [tool_id(value) for value in others]
    assert all(pattern.fullmatch(value) for value in made)
    assert made == [tool_id(value) for value in others]
    assert len(set(made)) == len(made)


def test_anthropics_usage_counts_cache_reads_and_writes_in_the_prompt() -> None:
    usage = usage_of(
        {
            "input_tokens": 10,
            "cache_read_input_tokens": 5,
            "cache_creation_input_tokens": 2,
            "output_tokens": 7,
            "output_tokens_details": {"thinking_tokens": 4},
        }
    )
    assert usage == Usage(17, 7, cached_tokens=5, reasoning_tokens=4, cache_creation_tokens=2)
    assert usage_of({"input_tokens": 3, "output_tokens": 1}) == Usage(3, 1)
    assert usage_of(None) is None


def test_usage_goes_back_to_anthropics_words_with_the_cache_counts_taken_out_of_input() -> None:
    usage = Usage(17, 7, cached_tokens=5, cache_creation_tokens=2)
    assert anthropic_usage(usage) == {
        "input_tokens": 10,
        "output_tokens": 7,
        "cache_creation_input_tokens": 2,
        "cache_read_input_tokens": 5,
    }
    assert usage_of(anthropic_usage(usage)) == usage
    assert anthropic_usage(Usage(3, 1))["cache_read_input_tokens"] == 0


def test_usage_as_openais_object_is_read_back_the_same_by_the_gateway_and_by_openais_name() -> None:
    usage = Usage(17, 7, cached_tokens=5, reasoning_tokens=4, cache_creation_tokens=2)
    value = chat_usage(usage)
    assert value["total_tokens"] == 24
    assert value["prompt_tokens_details"]["cache_write_tokens"] == 2
    assert gateway_usage_of(value) == usage
    openais = {"prompt_tokens": 17, "completion_tokens": 7, "prompt_tokens_details": {"cache_write_tokens": 2}}
    assert openai_usage_of(openais) == Usage(17, 7, cache_creation_tokens=2)


def test_only_signed_and_redacted_thinking_blocks_can_go_back() -> None:
    blocks = [
        {"type": "thinking", "thinking": "a", "signature": "sig"},
        {"type": "thinking", "thinking": "unsigned", "signature": None},
        {"type": "thinking", "thinking": "empty", "signature": ""},
        {"type": "redacted_thinking", "data": "opaque"},
        "not a block",
    ]
    assert signed_blocks(blocks) == [blocks[0], blocks[3]]
    assert signed_blocks(None) == []


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [('{"a": [1]}', {"a": [1]}), ("", {}), (None, {}), ("[1, 2]", {}), ('{"cut', {})],
)
def test_a_calls_arguments_are_an_object_or_nothing(arguments: str | None, expected: dict[str, object]) -> None:
    assert tool_input(arguments) == expected
