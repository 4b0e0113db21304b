"""/v1 as an OpenAI drop-in, through the official SDK against a real uvicorn: every field passed
through, tool calls streamed and recorded, structured outputs, images; against the fake upstream
(tool-call deltas split as OpenAI splits them) and against the mock LLM."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from pydantic import BaseModel

from tests.conftest import SDK_KEY, FakeOpenAI
from tests.servers import UvicornProcess

KEY = SDK_KEY
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
    },
}


class Weather(BaseModel):
    city: str
    temperature: float
    sunny: bool


def sdk(server: UvicornProcess) -> Any:
    """The official client (typed loosely here: these tests hand it what a JSON request would hold)."""
    return OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)


def record(server: UvicornProcess, record_id: str | None = None) -> dict[str, Any]:
    headers = {"x-api-key": KEY}
    if record_id is None:
        found: dict[str, Any] = httpx.get(server.url + "/history?limit=1", headers=headers).json()["items"][0]
        return found
    fetched: dict[str, Any] = httpx.get(f"{server.url}/history/{record_id}", headers=headers).json()
    return fetched


def test_every_field_the_gateway_does_not_own_reaches_the_upstream_unchanged(
    relayed: UvicornProcess, fake_openai: FakeOpenAI
) -> None:
    fields: dict[str, Any] = {
        "seed": 7,
        "top_p": 0.5,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
        "logit_bias": {"50256": -100},
        "logprobs": True,
        "top_logprobs": 2,
        "stop": ["\n\n"],
        "user": "someone",
        "metadata": {"team": "a"},
        "reasoning_effort": "low",
        "service_tier": "auto",
        "prediction": {"type": "content", "content": "x"},
        "modalities": ["text"],
        "response_format": {"type": "json_object"},
        "a_field_openai_adds_next_year": {"nested": [1, 2]},
    }
    body = {"model": "fake-large", "messages": [{"role": "user", "content": "hi"}], "stream": True, **fields}
    body["stream_options"] = {"include_usage": False, "include_obfuscation": False}
    response = httpx.post(relayed.url + "/v1/chat/completions", json=body, headers={"x-api-key": KEY}, timeout=30)
    assert response.status_code == 200
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]" and all(json.loads(e)["choices"] for e in events[:-1])  # no usage chunk
    (seen,) = fake_openai.requests()
    sent = seen["body"]
    assert {name: sent[name] for name in fields} == fields
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True, "include_obfuscation": False}


def test_parallel_tool_calls_stream_as_the_upstream_sent_them_and_are_recorded_assembled(
    relayed: UvicornProcess,
) -> None:
    stream = sdk(relayed).chat.completions.create(
        model="fake-large",
        messages=[{"role": "user", "content": "weather and time [[calls=2 chunks=12]]"}],
        tools=[WEATHER, TIME],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    fragments: dict[int, str] = {}
    names: dict[int, str] = {}
    for chunk in chunks:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            fragments[call.index] = fragments.get(call.index, "") + (call.function.arguments or "")
            if call.function and call.function.name:
                names[call.index] = call.function.name
    assert names == {0: "get_weather", 1: "get_time"}
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.tool_calls) > 4  # fragments, as they came
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens_details is not None
    saved = record(relayed)
    assert saved["finish_reason"] == "tool_calls" and saved["status"] == "complete"
    assert [c["function"]["name"] for c in saved["tool_calls"]] == ["get_weather", "get_time"]
    assert [c["function"]["arguments"] for c in saved["tool_calls"]] == [fragments[0], fragments[1]]
    assert json.loads(fragments[0]).keys() == {"city", "unit"}
    assert saved["tools"] == [WEATHER, TIME] and saved["cached_tokens"] == 0 and saved["reasoning_tokens"] == 0
    found = httpx.get(relayed.url + "/search", params={"query": "tok3"}, headers={"x-api-key": KEY}).json()
    assert [item["id"] for item in found["items"]] == [saved["id"]]  # search reads the calls' arguments


def test_whatever_else_a_delta_holds_is_relayed_and_the_finish_recorded(relayed: UvicornProcess) -> None:
    stream = sdk(relayed).chat.completions.create(
        model="fake-large", messages=[{"role": "user", "content": "[[extras]]"}], stream=True, logprobs=True
    )
    chunks = [chunk.model_dump() for chunk in stream]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0]["reasoning_content"] == "thinking first" and deltas[2]["refusal"] == "I cannot say more"
    assert chunks[1]["choices"][0]["logprobs"]["content"][0]["token"] == "tok0"
    assert chunks[-1]["choices"][0]["finish_reason"] == "content_filter"
    saved = record(relayed)
    assert (saved["finish_reason"], saved["response"], saved["status"]) == ("content_filter", "tok0", "complete")


def test_stream_false_answers_with_the_upstreams_object_as_it_came(relayed: UvicornProcess) -> None:
    body = {
        "model": "fake-large",
        "messages": [{"role": "user", "content": "go [[calls=2]]"}],
        "tools": [WEATHER, TIME],
    }
    response = httpx.post(relayed.url + "/v1/chat/completions", json=body, headers={"x-api-key": KEY}, timeout=30)
    answer = response.json()
    assert answer["system_fingerprint"] == "fp_fake" and answer["choices"][0]["finish_reason"] == "tool_calls"
    calls = answer["choices"][0]["message"]["tool_calls"]
    saved = record(relayed, response.headers["x-record-id"])
    assert saved["tool_calls"] == calls and saved["finish_reason"] == "tool_calls"
    assert answer["usage"]["completion_tokens_details"] == {"reasoning_tokens": 0}


async def test_the_async_sdk_streams_tool_calls_through_its_stream_helper(relayed: UvicornProcess) -> None:
    client: Any = openai.AsyncOpenAI(base_url=relayed.url + "/v1", api_key=KEY, max_retries=0)
    async with client.chat.completions.stream(
        model="fake-large", messages=[{"role": "user", "content": "weather [[chunks=8]]"}], tools=[WEATHER]
    ) as stream:
        done = [event async for event in stream if event.type == "tool_calls.function.arguments.done"]
    await client.close()
    assert [event.name for event in done] == ["get_weather"]
    assert json.loads(done[0].arguments).keys() == {"city", "unit"}


def test_a_v1_conversation_continued_on_stream_is_replayed_as_the_upstream_accepts_it(
    relayed: UvicornProcess, fake_openai: FakeOpenAI
) -> None:
    uri = "data:image/png;base64," + base64.b64encode(bytes(2000)).decode()
    content = [{"type": "text", "text": "Weather for this place?"}, {"type": "image_url", "image_url": {"url": uri}}]
    first = httpx.post(
        relayed.url + "/v1/chat/completions",
        json={"model": "fake-large", "messages": [{"role": "user", "content": content}], "tools": [WEATHER]},
        headers={"x-api-key": KEY},
        timeout=30,
    )
    conversation = first.headers["x-conversation-id"]
    call = first.json()["choices"][0]["message"]["tool_calls"][0]
    then = httpx.post(
        relayed.url + "/stream",
        json={"prompt": "And tomorrow?", "conversation_id": conversation},
        headers={"x-api-key": KEY},
        timeout=30,
    )
    assert then.status_code == 200
    replayed = fake_openai.requests()[-1]["body"]["messages"]
    assert replayed[0]["content"][0] == {"type": "text", "text": "Weather for this place?"}
    assert replayed[0]["content"][1]["type"] == "text" and "2000 bytes" in replayed[0]["content"][1]["text"]
    told = f"[called get_weather with {call['function']['arguments']}]"
    assert replayed[1:] == [{"role": "assistant", "content": told}, {"role": "user", "content": "And tomorrow?"}]


def test_the_sdk_stream_helper_sees_tool_call_events_and_search_finds_the_call(mock_server: UvicornProcess) -> None:
    client = sdk(mock_server)
    with client.chat.completions.stream(
        model="m",
        messages=[{"role": "user", "content": "weather please"}],
        tools=[openai.pydantic_function_tool(Weather, name="record_weather")],
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_completion()
    assert "tool_calls.function.arguments.delta" in kinds and "tool_calls.function.arguments.done" in kinds
    call = final.choices[0].message.tool_calls[0]
    assert call.function.name == "record_weather"
    assert isinstance(call.function.parsed_arguments, Weather)
    found = httpx.get(
        mock_server.url + "/search", params={"query": "record_weather"}, headers={"x-api-key": KEY}
    ).json()
    assert found["total"] == 1 and found["items"][0]["tool_calls"][0]["id"] == call.id


def test_a_two_turn_tool_conversation_with_the_mock_calls_then_answers_from_the_result(
    mock_server: UvicornProcess,
) -> None:
    client = sdk(mock_server)
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Oslo?"}]
    first = client.chat.completions.create(model="m", messages=messages, tools=[WEATHER], tool_choice="required")
    (call,) = first.choices[0].message.tool_calls or []
    assert first.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"
    arguments = json.loads(call.function.arguments)
    assert set(arguments) == {"city", "unit"} and arguments["unit"] in ("celsius", "fahrenheit")
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "4 °C, rain"},
    ]
    second = client.chat.completions.create(model="m", messages=messages, tools=[WEATHER])
    assert "4 °C, rain" in (second.choices[0].message.content or "")
    assert record(mock_server)["messages"][-1] == {"role": "tool", "tool_call_id": call.id, "content": "4 °C, rain"}


def test_the_mock_streams_a_tool_call_in_fragments_with_arguments_that_fit_the_schema(
    mock_server: UvicornProcess,
) -> None:
    stream = sdk(mock_server).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "weather?"}], tools=[WEATHER, TIME], stream=True,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )  # fmt: skip
    chunks = [c for c in stream if c.choices]
    arguments = "".join(
        c.choices[0].delta.tool_calls[0].function.arguments or "" for c in chunks if c.choices[0].delta.tool_calls
    )
    assert sum(1 for c in chunks if c.choices[0].delta.tool_calls) > 2
    assert set(json.loads(arguments)) == {"zone"} and chunks[-1].choices[0].finish_reason == "tool_calls"


def test_parse_with_a_pydantic_response_format_gets_valid_json_from_the_mock(mock_server: UvicornProcess) -> None:
    parsed = sdk(mock_server).chat.completions.parse(
        model="m", messages=[{"role": "user", "content": "Weather in Lima?"}], response_format=Weather
    )
    weather = parsed.choices[0].message.parsed
    assert isinstance(weather, Weather) and weather.city


def test_an_image_part_is_forwarded_whole_and_recorded_by_type_size_and_hash(
    relayed: UvicornProcess, fake_openai: FakeOpenAI
) -> None:
    image = bytes(range(256)) * 200
    uri = "data:image/png;base64," + base64.b64encode(image).decode()
    content = [{"type": "text", "text": "What is in this image?"}, {"type": "image_url", "image_url": {"url": uri}}]
    answer = sdk(relayed).chat.completions.create(model="fake-large", messages=[{"role": "user", "content": content}])
    assert answer.choices[0].message.content
    assert fake_openai.requests()[0]["body"]["messages"][0]["content"] == content
    saved = record(relayed)
    assert saved["prompt"] == "What is in this image?"
    kept = saved["messages"][0]["content"][1]["image_url"]["url"]
    assert kept == {
        "omitted": True,
        "media_type": "image/png",
        "bytes": len(image),
        "sha256": hashlib.sha256(image).hexdigest(),
    }
    assert uri[30:80] not in json.dumps(saved)


@pytest.mark.parametrize(
    ("messages", "mentions"),
    [
        ([{"role": "user", "content": "hi"}, {"role": "tool", "content": "result"}], "messages[1].tool_call_id"),
        ([{"role": "user", "content": [{"type": "mystery"}]}], "messages[0].content[0]"),
        ([{"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {}}]}], "function.name"),
        ([{"role": "wizard", "content": "hi"}], "messages[0].role"),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}], "image_url.url"),
    ],
)
def test_bad_shapes_are_a_422_naming_the_field(mock_server: UvicornProcess, messages: Any, mentions: str) -> None:
    response = httpx.post(
        mock_server.url + "/v1/chat/completions", json={"model": "m", "messages": messages}, headers={"x-api-key": KEY}
    )
    assert response.status_code == 422 and mentions in response.json()["error"]["message"], response.text


def test_a_tool_without_a_name_and_n_above_one_are_422(mock_server: UvicornProcess) -> None:
    base = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    for extra, mentions in (
        ({"tools": [{"type": "function", "function": {}}]}, "tools[0].function.name"),
        ({"n": 2}, "n"),
    ):
        response = httpx.post(
            mock_server.url + "/v1/chat/completions", json={**base, **extra}, headers={"x-api-key": KEY}
        )
        assert response.status_code == 422 and mentions in response.json()["error"]["message"]


def test_models_come_from_the_upstream_and_one_model_answers_as_openai_does(relayed: UvicornProcess) -> None:
    client = sdk(relayed)
    assert [m.id for m in client.models.list().data] == ["fake-large", "fake-small"]
    assert client.models.retrieve("fake-small").id == "fake-small"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("no-such-model")
    assert caught.value.code == "model_not_found"


def test_embeddings_are_passed_through_and_not_recorded(relayed: UvicornProcess, mock_server: UvicornProcess) -> None:
    for server in (relayed, mock_server):
        before = httpx.get(server.url + "/history", headers={"x-api-key": KEY}).json()["total"]
        answer = sdk(server).embeddings.create(model="text-embedding-3-small", input=["one", "two"])
        assert len(answer.data) == 2 and answer.data[1].index == 1
        assert httpx.get(server.url + "/history", headers={"x-api-key": KEY}).json()["total"] == before
