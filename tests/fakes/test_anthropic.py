"""The fake Anthropic server, driven by Anthropic's official Python SDK: the SDK accepting what the fake
sends (its pydantic types, its stream accumulator, its retry policy, its error classes) is the proof
that the fake speaks the real wire format (bench/fake_anthropic, which the gateway's tests use as
an Anthropic upstream)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import anthropic
import httpx
import pytest

from bench.fake_anthropic.rules import API_VERSIONS, MODELS, sign
from tests.servers import UvicornProcess

MODEL = "claude-haiku-4-5-20251001"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"],
    },
}
# A 1x1 transparent PNG.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


@pytest.fixture(scope="session")
def server(fake_anthropic_server: UvicornProcess) -> str:
    return fake_anthropic_server.url


@pytest.fixture
def url(server: str) -> str:
    httpx.post(server + "/_reset")
    return server


@pytest.fixture
def client(url: str) -> Any:
    return anthropic.Anthropic(api_key="sk-ant-test", base_url=url, max_retries=2, timeout=10)


def seen(url: str) -> list[dict[str, Any]]:
    return httpx.get(url + "/_requests").json()


def headers(**extra: str) -> dict[str, str]:
    return {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01", "content-type": "application/json", **extra}


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


# --- messages.create --------------------------------------------------------------------------------------


def test_create_returns_a_whole_message(client: Any, url: str) -> None:
    message = client.messages.create(model=MODEL, max_tokens=100, messages=user("Hello there"))
    assert message.id.startswith("msg_")
    assert message.type == "message" and message.role == "assistant" and message.model == MODEL
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "tok0 tok1 tok2 tok3 tok4"
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens == 3 + 2  # a message's 3, and two words
    assert message.usage.output_tokens == 5
    assert message.usage.cache_read_input_tokens == 0 and message.usage.cache_creation_input_tokens == 0
    request = seen(url)[0]
    # The 2.x SDK sends its key as a bearer token and the 2026-10-21 version.
    assert request["auth"] in ("bearer", "x-api-key")
    assert request["anthropic_version"] in API_VERSIONS
    assert request["body"]["max_tokens"] == 100 and request["body"]["messages"] == user("Hello there")
    assert request["status"] == 200 and request["completed"]


def test_chunks_directive_and_usage_match_count_tokens(client: Any) -> None:
    messages = user("Count me please [[chunks=3]]")
    message = client.messages.create(model=MODEL, max_tokens=100, system="Be brief.", messages=messages)
    assert message.content[0].text == "tok0 tok1 tok2"
    counted = client.messages.count_tokens(model=MODEL, system="Be brief.", messages=messages)
    assert counted.input_tokens == message.usage.input_tokens == 2 + 3 + 4


# --- streaming --------------------------------------------------------------------------------------------


def test_stream_helpers_text_stream_and_final_message(client: Any) -> None:
    with client.messages.stream(model=MODEL, max_tokens=100, messages=user("Hi [[chunks=4]]")) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert texts == ["tok0", " tok1", " tok2", " tok3"]
    assert final.content[0].text == "tok0 tok1 tok2 tok3"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 4 and final.usage.input_tokens == 3 + 2


def test_stream_exact_sse_framing_and_event_order(url: str) -> None:
    body = {"model": MODEL, "max_tokens": 50, "stream": True, "messages": user("Hi [[chunks=2]]")}
    with httpx.stream("POST", url + "/v1/messages", headers=headers(), json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["request-id"].startswith("req_")
        raw = response.read().decode()
    assert raw.endswith("\n\n")
    frames = raw[:-2].split("\n\n")
    names, payloads = [], []
    for frame in frames:
        event_line, data_line = frame.split("\n")
        assert event_line.startswith("event: ") and data_line.startswith("data: ")
        names.append(event_line[len("event: ") :])
        payloads.append(json.loads(data_line[len("data: ") :]))
        assert payloads[-1]["type"] == names[-1]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = payloads[0]["message"]
    assert start["id"].startswith("msg_") and start["type"] == "message" and start["role"] == "assistant"
    assert start["model"] == MODEL and start["content"] == []
    assert start["stop_reason"] is None and start["stop_sequence"] is None
    assert set(start["usage"]) >= {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    }
    assert payloads[1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert payloads[3]["delta"] == {"type": "text_delta", "text": "tok0"}
    assert payloads[4]["delta"] == {"type": "text_delta", "text": " tok1"}
    assert payloads[5] == {"type": "content_block_stop", "index": 0}
    assert payloads[6]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert payloads[6]["usage"]["output_tokens"] == 2
    assert payloads[7] == {"type": "message_stop"}


def test_raw_events_through_create_stream(client: Any) -> None:
    events = list(client.messages.create(model=MODEL, max_tokens=100, stream=True, messages=user("Hi [[chunks=2]]")))
    # The SDK drops `ping` events.
    assert [e.type for e in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


async def test_async_client_streams(url: str) -> None:
    client = anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=url, max_retries=0)
    async with client.messages.stream(
        model=MODEL, max_tokens=100, messages=user("Hi [[chunks=3 delay=0.01]]")
    ) as stream:
        texts = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(texts) == final.content[0].text == "tok0 tok1 tok2"
    await client.close()


def test_utf8_split_inside_characters_still_decodes(client: Any) -> None:
    with client.messages.stream(model=MODEL, max_tokens=100, messages=user("[[utf8 chunks=6]]")) as stream:
        text = "".join(stream.text_stream)
    assert text == "héllo wörld 🙂 日本語 ça 💡"


# --- stop reasons -----------------------------------------------------------------------------------------


def test_small_max_tokens_stops_with_max_tokens(client: Any) -> None:
    with client.messages.stream(model=MODEL, max_tokens=3, messages=user("Hi [[chunks=8]]")) as stream:
        final = stream.get_final_message()
    assert final.content[0].text == "tok0 tok1 tok2"
    assert final.stop_reason == "max_tokens" and final.usage.output_tokens == 3


def test_stop_sequence_found_in_the_text_cuts_it(client: Any) -> None:
    message = client.messages.create(model=MODEL, max_tokens=100, stop_sequences=["tok3"], messages=user("Hi"))
    assert message.content[0].text == "tok0 tok1 tok2 "
    assert message.stop_reason == "stop_sequence" and message.stop_sequence == "tok3"


def test_stop_sequence_directive(client: Any) -> None:
    with client.messages.stream(
        model=MODEL, max_tokens=100, stop_sequences=["END"], messages=user("Hi [[stop_sequence]]")
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "stop_sequence" and final.stop_sequence == "END"


def test_refusal_and_other_stop_reasons(client: Any) -> None:
    with client.messages.stream(model=MODEL, max_tokens=100, messages=user("[[refusal]]")) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "refusal" and final.stop_details is not None
    assert final.stop_details.type == "refusal"
    message = client.messages.create(model=MODEL, max_tokens=100, messages=user("[[stop_reason=pause_turn]]"))
    assert message.stop_reason == "pause_turn"


# --- tools ------------------------------------------------------------------------------------------------


def test_tool_use_round_trip(client: Any, url: str) -> None:
    messages: list[dict[str, Any]] = user("Weather in Paris?")
    with client.messages.stream(model=MODEL, max_tokens=200, tools=[WEATHER_TOOL], messages=messages) as stream:
        events = list(stream)
        first = stream.get_final_message()
    assert first.stop_reason == "tool_use"
    call = first.content[0]
    assert call.type == "tool_use" and call.id.startswith("toolu_") and call.name == "get_weather"
    assert call.input == {"city": "tok0 tok1 tok2 tok3 tok4", "days": 0}
    fragments = [e.delta.partial_json for e in events if e.type == "content_block_delta"]
    assert fragments[0] == "" and json.loads("".join(fragments)) == call.input
    # The SDK's helper events show the JSON building up.
    assert [e.snapshot for e in events if e.type == "input_json"][-1] == call.input

    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18 degrees"}]},
    ]
    second = client.messages.create(model=MODEL, max_tokens=200, tools=[WEATHER_TOOL], messages=messages)
    assert second.stop_reason == "end_turn" and second.content[0].type == "text"
    sent = seen(url)[-1]["body"]["messages"][-1]["content"][0]
    assert sent == {"type": "tool_result", "tool_use_id": call.id, "content": "18 degrees"}


def test_parallel_calls_and_disable_parallel_tool_use(client: Any) -> None:
    tools = [
        WEATHER_TOOL,
        {"name": "get_time", "input_schema": {"type": "object", "properties": {"zone": {"type": "string"}}}},
    ]
    message = client.messages.create(model=MODEL, max_tokens=200, tools=tools, messages=user("[[calls=2 chunks=4]]"))
    assert [b.name for b in message.content] == ["get_weather", "get_time"]
    assert len({b.id for b in message.content}) == 2
    single = client.messages.create(
        model=MODEL,
        max_tokens=200,
        tools=tools,
        tool_choice={"type": "tool", "name": "get_time", "disable_parallel_tool_use": True},
        messages=user("[[calls=2]]"),
    )
    assert [b.name for b in single.content] == ["get_time"]


def test_tool_choice_none_and_preamble(client: Any) -> None:
    none = client.messages.create(
        model=MODEL, max_tokens=200, tools=[WEATHER_TOOL], tool_choice={"type": "none"}, messages=user("Hi")
    )
    assert none.stop_reason == "end_turn" and none.content[0].type == "text"
    with client.messages.stream(
        model=MODEL, max_tokens=200, tools=[WEATHER_TOOL], messages=user("[[preamble]]")
    ) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["text", "tool_use"]


def test_tool_pairing_is_enforced_as_anthropic_words_it(client: Any) -> None:
    orphan = [
        *user("Hi"),
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_nope", "content": "x"}]},
    ]
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=MODEL, max_tokens=100, tools=[WEATHER_TOOL], messages=orphan)
    assert caught.value.status_code == 400
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    assert "messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_nope" in str(
        caught.value
    )
    unanswered = [
        *user("Hi"),
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": "never mind"},
    ]
    with pytest.raises(anthropic.BadRequestError, match="`tool_use` ids were found without `tool_result` blocks"):
        client.messages.create(model=MODEL, max_tokens=100, tools=[WEATHER_TOOL], messages=unanswered)
    # Ids from other providers ("functions.Bash:0") break Anthropic's pattern.
    foreign = [
        *user("Hi"),
        {"role": "assistant", "content": [{"type": "tool_use", "id": "functions.Bash:0", "name": "x", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "functions.Bash:0", "content": "r"}]},
    ]
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=MODEL, max_tokens=100, tools=[WEATHER_TOOL], messages=foreign)
    assert caught.value.body["error"]["message"] == (
        "messages.1.content.0.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'"
    )


# --- thinking ---------------------------------------------------------------------------------------------


def test_thinking_blocks_with_signatures(client: Any) -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024}
    with client.messages.stream(
        model=MODEL,
        max_tokens=2048,
        thinking=thinking,
        messages=user("Think [[chunks=2]]"),
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    kinds = [e.type for e in events]
    assert "thinking" in kinds and "signature" in kinds and "text" in kinds
    assert kinds.index("signature") < kinds.index("text")
    block = final.content[0]
    assert block.type == "thinking" and block.thinking == "think0 think1 think2"
    assert block.signature == sign(block.thinking)
    assert final.content[1].text == "tok0 tok1"
    # A thinking directive without the request's thinking works too, with N thinking deltas.
    message = client.messages.create(model=MODEL, max_tokens=100, messages=user("[[thinking=2]]"))
    assert message.content[0].thinking == "think0 think1"


def test_thinking_tool_loop_needs_the_signed_block_back(client: Any) -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024}
    messages: list[dict[str, Any]] = user("Weather?")
    first = client.messages.create(
        model=MODEL,
        max_tokens=2048,
        thinking=thinking,
        tools=[WEATHER_TOOL],
        messages=messages,
    )
    assert [b.type for b in first.content] == ["thinking", "tool_use"]
    call = first.content[1]
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]}
    good = [
        *messages,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        result,
    ]
    second = client.messages.create(
        model=MODEL, max_tokens=2048, thinking=thinking, tools=[WEATHER_TOOL], messages=good
    )
    assert second.stop_reason == "end_turn"
    # A gateway that drops the thinking block gets Anthropic's 400.
    dropped = [*messages, {"role": "assistant", "content": [call.model_dump(exclude_none=True)]}, result]
    with pytest.raises(
        anthropic.BadRequestError, match="Expected `thinking` or `redacted_thinking`, but found `tool_use`"
    ):
        client.messages.create(model=MODEL, max_tokens=2048, thinking=thinking, tools=[WEATHER_TOOL], messages=dropped)
    # One that alters the signature, too.
    tampered_block = {**first.content[0].model_dump(), "signature": "AAAA"}
    tampered = [
        *messages,
        {"role": "assistant", "content": [tampered_block, call.model_dump(exclude_none=True)]},
        result,
    ]
    with pytest.raises(anthropic.BadRequestError, match="Invalid `signature` in `thinking` block"):
        client.messages.create(model=MODEL, max_tokens=2048, thinking=thinking, tools=[WEATHER_TOOL], messages=tampered)


def test_thinking_budget_rules(client: Any) -> None:
    with pytest.raises(anthropic.BadRequestError, match=r"`max_tokens` must be greater than `thinking\.budget_tokens`"):
        client.messages.create(
            model=MODEL, max_tokens=1024, thinking={"type": "enabled", "budget_tokens": 1024}, messages=user("Hi")
        )
    with pytest.raises(anthropic.BadRequestError, match="greater than or equal to 1024"):
        client.messages.create(
            model=MODEL, max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 100}, messages=user("Hi")
        )


def test_redacted_thinking_and_omitted_display(client: Any) -> None:
    with client.messages.stream(model=MODEL, max_tokens=100, messages=user("[[redacted_thinking]]")) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["redacted_thinking", "text"]
    assert final.content[0].data
    omitted = client.messages.create(
        model=MODEL,
        max_tokens=2048,
        thinking={"type": "adaptive", "display": "omitted"},
        messages=user("Hi"),
    )
    assert omitted.content[0].type == "thinking" and omitted.content[0].thinking == ""
    assert omitted.content[0].signature == sign("")


# --- content blocks ---------------------------------------------------------------------------------------


def test_image_and_document_blocks(client: Any, url: str) -> None:
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {
            "type": "document",
            "source": {
                "type": "base64",
                "media_type": "application/pdf",
                "data": base64.b64encode(b"%PDF-1.4").decode(),
            },
        },
        {"type": "text", "text": "What are these?"},
    ]
    message = client.messages.create(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": content}])
    assert message.usage.input_tokens == 3 + 100 + 100 + 200 + 3
    assert seen(url)[0]["body"]["messages"][0]["content"] == content
    # A data: URI left in the base64 field is Anthropic's 400.
    bad = [
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "data:image/png;base64," + PNG},
        }
    ]
    with pytest.raises(anthropic.BadRequestError, match="not valid base64"):
        client.messages.create(model=MODEL, max_tokens=100, messages=[{"role": "user", "content": bad}])


def test_count_tokens_rule(client: Any, url: str) -> None:
    counted = client.messages.count_tokens(
        model=MODEL,
        system=[{"type": "text", "text": "You are terse."}],
        tools=[WEATHER_TOOL],
        messages=[
            {"role": "user", "content": "one two three"},
            {"role": "assistant", "content": [{"type": "text", "text": "four"}]},
            {
                "role": "user",
                "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}],
            },
        ],
    )
    schema_words = len(json.dumps(WEATHER_TOOL["input_schema"], sort_keys=True).split())
    assert counted.input_tokens == 3 + (3 + 3) + (3 + 1) + (3 + 100) + (1 + 5 + schema_words)
    assert seen(url)[0]["path"] == "/v1/messages/count_tokens"
    with pytest.raises(anthropic.BadRequestError, match="max_tokens: Extra inputs are not permitted"):
        client.messages.count_tokens(model=MODEL, messages=user("Hi"), extra_body={"max_tokens": 5})


def test_consecutive_same_role_and_system_role_messages_are_accepted(client: Any) -> None:
    messages = [
        {"role": "system", "content": "From now on, be brief."},
        {"role": "user", "content": "one"},
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": "three"},
        {"role": "assistant", "content": "four"},
        {"role": "user", "content": "five"},
    ]
    message = client.messages.create(model=MODEL, max_tokens=100, messages=messages)
    assert message.stop_reason == "end_turn"


# --- caching ----------------------------------------------------------------------------------------------


def test_cache_directive_and_cache_control(client: Any) -> None:
    history = [{"role": "user", "content": "a b c d"}, {"role": "assistant", "content": "e f"}]
    read = client.messages.create(model=MODEL, max_tokens=100, messages=history + user("now [[cache]]"))
    assert read.usage.cache_read_input_tokens == 7 + 5 and read.usage.input_tokens == 3 + 2
    write = client.messages.create(model=MODEL, max_tokens=100, messages=history + user("now [[cache=write]]"))
    assert write.usage.cache_creation_input_tokens == 12 and write.usage.cache_read_input_tokens == 0
    system = [{"type": "text", "text": "long system prompt", "cache_control": {"type": "ephemeral"}}]
    first = client.messages.create(model=MODEL, max_tokens=100, system=system, messages=user("q1"))
    again = client.messages.create(model=MODEL, max_tokens=100, system=system, messages=user("q2"))
    assert first.usage.cache_creation_input_tokens == 3 and first.usage.cache_read_input_tokens == 0
    assert again.usage.cache_read_input_tokens == 3 and again.usage.cache_creation_input_tokens == 0


# --- failures ---------------------------------------------------------------------------------------------


def test_529_is_retried_by_the_sdk(client: Any, url: str) -> None:
    message = client.messages.create(model=MODEL, max_tokens=100, messages=user("Hi [[overloaded=2 retry_after=0.01]]"))
    assert message.stop_reason == "end_turn"
    assert [r["status"] for r in seen(url)] == [529, 529, 200]


def test_529_raises_overloaded_error_when_retries_run_out(url: str) -> None:
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url=url, max_retries=1)
    # OverloadedError is an InternalServerError in the 2.x SDK, a plain APIStatusError in 1.x.
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model=MODEL, max_tokens=100, messages=user("Hi [[overloaded retry_after=0.01]]"))
    assert caught.value.status_code == 529
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": caught.value.body["request_id"],
    }
    assert caught.value.request_id and caught.value.request_id.startswith("req_")
    assert len(seen(url)) == 2
    if hasattr(anthropic, "OverloadedError"):
        assert isinstance(caught.value, anthropic.OverloadedError)


def test_429_carries_retry_after_and_is_retried(client: Any, url: str) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": user("[[fail=1 status=429 retry_after=0.01]]")}
    response = httpx.post(url + "/v1/messages", headers=headers(), json=body)
    assert response.status_code == 429 and response.headers["retry-after"] == "0.01"
    assert response.json()["error"]["type"] == "rate_limit_error"
    httpx.post(url + "/_reset")
    started = time.monotonic()
    message = client.messages.create(**body)
    assert message.stop_reason == "end_turn" and time.monotonic() - started < 2
    assert [r["status"] for r in seen(url)] == [429, 200]


def test_reject_is_not_retried(client: Any, url: str) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=MODEL, max_tokens=100, messages=user("[[reject=400]]"))
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    assert len(seen(url)) == 1
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="unknown-model", max_tokens=100, messages=user("Hi"))


def test_error_event_mid_stream_raises_in_the_sdk(client: Any) -> None:
    texts = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        with client.messages.stream(model=MODEL, max_tokens=100, messages=user("[[error_event at=2]]")) as stream:
            for text in stream.text_stream:
                texts.append(text)
    assert texts == ["tok0", " tok1"]
    assert caught.value.body["error"]["type"] == "overloaded_error"
    assert caught.value.body["type"] == "error"


def test_dropped_connection_raises_in_the_sdk(client: Any) -> None:
    with pytest.raises(Exception) as caught:
        with client.messages.stream(model=MODEL, max_tokens=100, messages=user("[[drop at=1]]")) as stream:
            for _ in stream.text_stream:
                pass
    # The 2.x SDK wraps the transport's error in APIConnectionError; older ones let httpx's through.
    assert type(caught.value).__name__ in ("APIConnectionError", "RemoteProtocolError")
    assert "peer closed connection" in str(caught.value) or "incomplete" in str(caught.value)


def test_mode_makes_every_request_fail(client: Any, url: str) -> None:
    httpx.post(url + "/_mode", json={"reject": 503, "retry_after": "0.01"})
    with pytest.raises(anthropic.InternalServerError) as caught:
        client.messages.create(model=MODEL, max_tokens=100, messages=user("Hi"))
    assert caught.value.status_code == 503 and len(seen(url)) == 3


# --- authentication, versions, validation -----------------------------------------------------------------


def test_authentication_and_version_headers(url: str) -> None:
    body = {"model": MODEL, "max_tokens": 10, "messages": user("Hi")}
    missing = httpx.post(url + "/v1/messages", headers={"anthropic-version": "2023-06-01"}, json=body)
    assert missing.status_code == 401
    assert missing.json()["type"] == "error" and missing.json()["error"]["type"] == "authentication_error"
    bad = httpx.post(url + "/v1/messages", headers=headers(**{"x-api-key": "bad-key"}), json=body)
    assert bad.status_code == 401 and bad.json()["error"]["message"] == "invalid x-api-key"
    no_version = httpx.post(url + "/v1/messages", headers={"x-api-key": "k"}, json=body)
    assert (
        no_version.status_code == 400
        and no_version.json()["error"]["message"] == "anthropic-version: header is required"
    )
    wrong = httpx.post(url + "/v1/messages", headers=headers(**{"anthropic-version": "2024-10-22"}), json=body)
    assert wrong.json()["error"]["message"] == 'anthropic-version: "2024-10-22" is not a valid version'
    bearer = httpx.post(
        url + "/v1/messages",
        headers={
            "authorization": "Bearer k",
            "anthropic-version": "2026-10-21",
            "anthropic-beta": "a-2025-01-01, b-2025-02-02",
        },
        json=body,
    )
    assert bearer.status_code == 200
    last = seen(url)[-1]
    assert last["auth"] == "bearer" and last["anthropic_beta"] == ["a-2025-01-01", "b-2025-02-02"]


def test_sdk_auth_errors(url: str) -> None:
    client = anthropic.Anthropic(api_key="bad-key", base_url=url, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(model=MODEL, max_tokens=10, messages=user("Hi"))
    httpx.post(url + "/_mode", json={"api_keys": ["good"]})
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(api_key="other", base_url=url).messages.create(
            model=MODEL, max_tokens=10, messages=user("Hi")
        )
    ok = anthropic.Anthropic(api_key="good", base_url=url).messages.create(
        model=MODEL, max_tokens=10, messages=user("Hi")
    )
    assert ok.stop_reason == "end_turn"


def test_unknown_fields_are_400_extra_inputs(client: Any) -> None:
    with pytest.raises(anthropic.BadRequestError, match="response_format: Extra inputs are not permitted"):
        client.messages.create(
            model=MODEL, max_tokens=10, messages=user("Hi"), extra_body={"response_format": {"type": "json_object"}}
        )
    with pytest.raises(anthropic.BadRequestError, match=r"messages\.0\.name: Extra inputs are not permitted"):
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "Hi", "name": "bob"}])
    # A beta field passes only with an anthropic-beta header.
    with pytest.raises(anthropic.BadRequestError, match="context_management: Extra inputs are not permitted"):
        client.messages.create(model=MODEL, max_tokens=10, messages=user("Hi"), extra_body={"context_management": {}})
    ok = client.messages.create(
        model=MODEL,
        max_tokens=10,
        messages=user("Hi"),
        extra_body={"context_management": {}},
        extra_headers={"anthropic-beta": "context-management-2025-06-27"},
    )
    assert ok.stop_reason == "end_turn"


def test_sampling_parameters_depend_on_the_api_version(client: Any) -> None:
    old = {"anthropic-version": "2023-06-01"}
    ok = client.messages.create(
        model=MODEL, max_tokens=10, messages=user("Hi"), extra_body={"temperature": 0.2, "top_k": 5}, extra_headers=old
    )
    assert ok.stop_reason == "end_turn"
    with pytest.raises(anthropic.BadRequestError, match="`temperature` is deprecated"):
        client.messages.create(
            model=MODEL,
            max_tokens=10,
            messages=user("Hi"),
            extra_body={"temperature": 0.2},
            extra_headers={"anthropic-version": "2026-10-21"},
        )


def test_required_fields_and_empty_content(url: str, client: Any) -> None:
    response = httpx.post(url + "/v1/messages", headers=headers(), json={"model": MODEL, "messages": user("Hi")})
    assert response.status_code == 400
    assert response.json()["error"] == {"type": "invalid_request_error", "message": "max_tokens: Field required"}
    with pytest.raises(anthropic.BadRequestError, match="all messages must have non-empty content"):
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": ""}])
    # A final empty assistant turn (prefill) is allowed.
    ok = client.messages.create(
        model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": []}]
    )
    assert ok.stop_reason == "end_turn"
    with pytest.raises(anthropic.BadRequestError, match="must define tools"):
        client.messages.create(
            model=MODEL,
            max_tokens=10,
            messages=[
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "x", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "r"}]},
            ],
        )


# --- models -----------------------------------------------------------------------------------------------


def test_models_list_and_retrieve(client: Any, url: str) -> None:
    page = client.models.list(limit=2)
    assert [m.id for m in page.data] == [m[0] for m in MODELS[:2]]
    assert page.has_more is True and page.first_id == page.data[0].id and page.last_id == page.data[1].id
    everything = [m.id for m in client.models.list(limit=2)]  # auto-pagination follows after_id
    assert everything == [m[0] for m in MODELS]
    model = client.models.retrieve(MODELS[0][0])
    assert model.type == "model" and model.display_name == MODELS[0][1]
    assert model.created_at.year >= 2025
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("claude-nope")
    raw = httpx.get(url + "/v1/models", headers=headers()).json()
    assert set(raw) == {"data", "has_more", "first_id", "last_id"} and raw["has_more"] is False
    assert set(raw["data"][0]) >= {"type", "id", "display_name", "created_at"}


# --- what Claude Code sends -------------------------------------------------------------------------------

CLAUDE_CODE_BETAS = (
    "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,effort-2025-11-24"
)


def test_a_claude_code_shaped_conversation(url: str) -> None:
    """Role "system" turns (one empty, with its own output_config), adaptive thinking with display
    omitted, context_management under its beta, metadata.user_id as a JSON string, a deferred tool with a
    $schema, `?beta=true`: all accepted, and the signed thinking block survives the tool loop."""
    client = anthropic.Anthropic(
        api_key="sk-ant-test", base_url=url, max_retries=0, default_headers={"anthropic-beta": CLAUDE_CODE_BETAS}
    )
    bash = {
        "name": "Bash",
        "description": "Run a command",
        "input_schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {"command": {"type": "string"}, "timeout": {"type": "number"}},
            "required": ["command"],
        },
    }
    deferred = {"name": "DeferredToolPlaceholder", "input_schema": {"type": "object"}, "defer_loading": True}
    extra = {
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "medium"},
    }
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "text", "text": "make out.txt", "cache_control": {"type": "ephemeral"}}]},
        {"role": "system", "content": [], "output_config": {"effort": "medium"}},
    ]
    with client.messages.stream(
        model="claude-opus-5-5",
        max_tokens=32000,
        system=[{"type": "text", "text": "You are Claude Code."}],
        messages=messages,
        tools=[bash, deferred],
        thinking={"type": "adaptive", "display": "omitted"},
        metadata={"user_id": json.dumps({"device_id": "d", "session_id": "s"})},
        extra_body=extra,
        extra_query={"beta": "true"},
    ) as stream:
        first = stream.get_final_message()
    assert [b.type for b in first.content] == ["thinking", "tool_use"]
    assert first.content[0].thinking == "" and first.content[0].signature
    call = first.content[1]
    assert call.name == "Bash" and call.input["command"].startswith("tok0")
    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "done"}]},
        {"role": "system", "content": "[Truncated: PARTIAL view]"},
    ]
    # The SDK refuses a non-streamed request whose max_tokens could take over 10 minutes.
    with client.messages.stream(
        model="claude-opus-5-5",
        max_tokens=32000,
        messages=messages,
        tools=[bash, deferred],
        thinking={"type": "adaptive", "display": "omitted"},
        extra_body=extra,
        extra_query={"beta": "true"},
    ) as stream:
        second = stream.get_final_message()
    assert second.stop_reason == "end_turn" and second.content[-1].type == "text"
    requests = seen(url)
    assert [r["query"] for r in requests] == ["beta=true", "beta=true"]
    assert requests[0]["anthropic_beta"] == CLAUDE_CODE_BETAS.split(",")
