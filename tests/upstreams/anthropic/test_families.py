"""What each Claude model takes, read from its name as Anthropic, Bedrock and Vertex spell it."""

from __future__ import annotations

import pytest

from gateway.upstreams.anthropic.families import Traits, traits
from gateway.upstreams.anthropic.requests import to_anthropic
from gateway.upstreams.llm import Completion

OLDER, ADAPTIVE, NEWEST = Traits(), Traits(adaptive=True), Traits(adaptive=True, sampling=False)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-3-5-sonnet-20241022", OLDER),
        ("claude-sonnet-4-5", OLDER),
        ("claude-sonnet-4-5-20250929", OLDER),
        ("claude-opus-4-1", OLDER),
        ("claude-sonnet-4-6", ADAPTIVE),
        ("claude-opus-4-6", ADAPTIVE),
        ("us.anthropic.claude-sonnet-4-6-v1:0", ADAPTIVE),
        ("claude-opus-4-7", NEWEST),
        ("claude-opus-4-8@20260301", NEWEST),
        ("claude-sonnet-5", NEWEST),
        ("claude-haiku-5-5", NEWEST),
        ("claude-fable-5", NEWEST),
        ("some-proxy-name", OLDER),
    ],
)
def test_a_models_name_says_how_it_thinks_and_whether_it_takes_sampling(model: str, expected: Traits) -> None:
    assert traits(model) == expected


def test_the_newest_models_get_adaptive_thinking_and_no_sampling_parameters() -> None:
    asked = Completion(
        [{"role": "user", "content": "hi"}], "claude-opus-4-7", {"reasoning_effort": "high", "temperature": 0.2}
    )
    found = traits(asked.model)
    body, left_out = to_anthropic(asked, adaptive=found.adaptive, sampling=found.sampling)
    assert body["thinking"] == {"type": "adaptive"} and body["output_config"]["effort"] == "high"
    assert "temperature" not in body and "temperature" in left_out
