"""Anthropic's API and OpenAI's, each over the other's upstream, through a real gateway: the
`anthropic` SDK against the fake chat-completions upstream and the mock (streamed tool_use with
input_json_delta, tool_result as tool messages, images, stop reasons, usage, an estimated
count_tokens), the `openai` SDK against the fake Anthropic upstream (streamed tool calls, reasoning,
cached tokens, a whole answer), and a conversation continued from one API to another. Both
databases."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import pytest
from openai import OpenAI

from tests.conftest import SDK_KEY, FakeOpenAI
from tests.e2e.conftest import CLAUDE
from tests.e2e.test_anthropic import WEATHER, newest
from tests.servers import UvicornProcess

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


@pytest.fixture
def server(claude_gateway: UvicornProcess) -> UvicornProcess:
    return claude_gateway


def claude_sdk(server: UvicornProcess) -> Any:
    return anthropic.Anthropic(api_key=SDK_KEY, base_url=server.url, max_retries=0)


def openai_sdk(server: UvicornProcess) -> Any:
    return OpenAI(api_key=SDK_KEY, base_url=server.url + "/v1", max_retries=0)


def test_a_chat_upstream_answers_an_anthropic_client_in_anthropics_events(
    server: UvicornProcess, fake_openai: FakeOpenAI
) -> None:
    with claude_sdk(server).messages.stream(
        model="gpt-fake", max_tokens=50, system="Be brief.", messages=[{"role": "user", "content": "hi [[chunks=3]]"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.content[0].text == text and final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0 and final.usage.input_tokens > 0
    sent = fake_openai.requests()[-1]["body"]
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["messages"][1]["role"] == "user" and sent["max_completion_tokens"] == 50 and sent["stream"] is True
    saved = newest(server)
    assert saved["stream_format"] == "messages" and saved["response"] == text and saved["upstream"] == "gpt-upstream"


def test_a_tool_round_trip_with_a_chat_upstream_streams_tool_use_and_sends_results_as_tool_messages(
    server: UvicornProcess, fake_openai: FakeOpenAI
) -> None:
    sdk = claude_sdk(server)
    asked = [{"role": "user", "content": "Weather in Paris?"}]
    raw = httpx.post(
        server.url + "/v1/messages",
        json={"model": "gpt-fake", "max_tokens": 200, "stream": True, "messages": asked, "tools": [WEATHER]},
        headers={"x-api-key": SDK_KEY, "anthropic-version": "2023-06-01"},
    ).text
    assert "input_json_delta" in raw and raw.count("content_block_stop") == raw.count("content_block_start")
    with sdk.messages.stream(model="gpt-fake", max_tokens=200, messages=asked, tools=[WEATHER]) as stream:
        first = stream.get_final_message()
    call = next(block for block in first.content if block.type == "tool_use")
    assert first.stop_reason == "tool_use" and call.name == "get_weather" and isinstance(call.input, dict)
    assert fake_openai.requests()[-1]["body"]["tools"][0]["function"]["name"] == "get_weather"
    follow = [
        *asked,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]},
    ]
    second = sdk.messages.create(model="gpt-fake", max_tokens=200, messages=follow, tools=[WEATHER])
    assert second.stop_reason == "end_turn" and second.content[0].type == "text"
    sent = fake_openai.requests()[-1]["body"]["messages"]
    assert sent[-2]["tool_calls"][0]["id"] == call.id and json.loads(sent[-2]["tool_calls"][0]["function"]["arguments"])
    assert sent[-1] == {"role": "tool", "tool_call_id": call.id, "content": "sunny"}
    assert (
        "get_weather"
        in httpx.get(server.url + "/search", params={"query": "get_weather"}, headers={"x-api-key": SDK_KEY}).text
    )


def test_an_image_reaches_a_chat_upstream_as_a_data_uri(server: UvicornProcess, fake_openai: FakeOpenAI) -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    claude_sdk(server).messages.create(
        model="gpt-fake",
        max_tokens=20,
        messages=[{"role": "user", "content": [image, {"type": "text", "text": "What?"}]}],
    )
    parts = fake_openai.requests()[-1]["body"]["messages"][-1]["content"]
    assert parts[0] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}


def test_the_mock_answers_anthropics_api_and_count_tokens_is_an_estimate_without_an_anthropic_upstream(
    server: UvicornProcess,
) -> None:
    sdk = claude_sdk(server)
    with sdk.messages.stream(model="mocked", max_tokens=20, messages=[{"role": "user", "content": "Hello"}]) as stream:
        assert "".join(stream.text_stream)
    whole = sdk.messages.create(model="mocked", max_tokens=20, messages=[{"role": "user", "content": "Hello"}])
    assert whole.content[0].type == "text" and whole.stop_reason in ("end_turn", "max_tokens")
    counted = httpx.post(
        server.url + "/v1/messages/count_tokens",
        json={"model": "mocked", "messages": [{"role": "user", "content": "four words right here"}]},
        headers={"x-api-key": SDK_KEY, "anthropic-version": "2023-06-01"},
    ).json()
    assert counted["estimated"] is True and counted["input_tokens"] > 0


def test_the_openai_sdk_streams_tool_calls_reasoning_and_cached_usage_from_an_anthropic_upstream(
    server: UvicornProcess,
) -> None:
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER["input_schema"]}}
    chunks = list(
        openai_sdk(server).chat.completions.create(
            model=CLAUDE,
            messages=[{"role": "user", "content": "Weather in Paris? [[thinking cache]]"}],
            tools=[tool],
            reasoning_effort="low",
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    reasoning = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices)
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or []]
    assert reasoning and calls[0].function.name == "get_weather"
    arguments = "".join(call.function.arguments or "" for call in calls)
    assert json.loads(arguments)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    usage = chunks[-1].usage
    assert (
        usage.prompt_tokens_details.cached_tokens > 0
        and usage.prompt_tokens >= usage.prompt_tokens_details.cached_tokens
    )
    saved = newest(server)
    assert saved["cached_tokens"] == usage.prompt_tokens_details.cached_tokens and saved["thinking"][0]["signature"]


def test_a_whole_answer_from_an_anthropic_upstream_is_a_chat_completion(server: UvicornProcess) -> None:
    answer = openai_sdk(server).chat.completions.create(
        model=CLAUDE, messages=[{"role": "user", "content": "hi [[chunks=2]]"}], max_tokens=30
    )
    assert answer.object == "chat.completion" and answer.choices[0].message.content == "tok0 tok1"
    assert answer.choices[0].finish_reason == "stop" and answer.usage.completion_tokens > 0


def test_what_anthropic_has_no_place_for_is_left_out_named_in_the_header_and_the_record(
    server: UvicornProcess, fake_anthropic_server: UvicornProcess
) -> None:
    raw = openai_sdk(server).chat.completions.with_raw_response.create(
        model=CLAUDE,
        messages=[{"role": "user", "content": "hi [[chunks=2]]"}],
        max_tokens=30,
        seed=7,
        logit_bias={"50256": -100},
        extra_body={"some_new_field": 1},
    )
    named = set(raw.headers["x-left-out"].split(", "))
    assert {"seed", "logit_bias", "some_new_field"} <= named
    assert raw.parse().choices[0].message.content == "tok0 tok1"
    sent = httpx.get(fake_anthropic_server.url + "/_requests").json()[-1]["body"]
    assert not {"seed", "logit_bias", "some_new_field"} & set(sent)
    saved = newest(server)
    assert set(saved["left_out"]) == named and saved["params"]["seed"] == 7


def test_a_messages_conversation_continues_on_stream_with_another_provider(
    server: UvicornProcess, fake_openai: FakeOpenAI
) -> None:
    claude_sdk(server).messages.create(
        model=CLAUDE, max_tokens=30, messages=[{"role": "user", "content": "first [[chunks=2]]"}]
    )
    conversation = newest(server)["conversation_id"]
    streamed = httpx.post(
        server.url + "/stream",
        json={"prompt": "and then?", "conversation_id": conversation, "model": "gpt-fake"},
        headers={"x-api-key": SDK_KEY},
    )
    assert streamed.status_code == 200
    sent = fake_openai.requests()[-1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[0]["content"] == "first [[chunks=2]]" and sent[1]["content"] == "tok0 tok1"
