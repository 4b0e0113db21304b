"""`/v1/responses` through the official SDK against a real uvicorn, on both databases: created and
streamed with the SDK's helpers, chained by `previous_response_id` from the gateway's own store
(the upstream sees every earlier turn), function calls round-tripped, resumed by `Last-Event-ID`,
kept out of reach of other keys, and a record like any other."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from tests.conftest import SDK_KEY, FakeOpenAI
from tests.servers import UvicornProcess

KEY = SDK_KEY
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def sdk(server: UvicornProcess, key: str = KEY) -> Any:
    return OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)


def get(server: UvicornProcess, path: str, key: str = KEY, **params: Any) -> Any:
    return httpx.get(server.url + path, params=params, headers={"x-api-key": key}, timeout=10).json()


def test_the_sdk_creates_and_streams_responses_and_each_is_a_record(mock_server: UvicornProcess) -> None:
    client = sdk(mock_server)
    made = client.responses.create(model="gpt-4o-mini", input="Explain tides", instructions="Be brief")
    assert made.status == "completed" and made.output_text and made.usage.output_tokens > 0
    with client.responses.stream(model="gpt-4o-mini", input="Explain glaciers", metadata={"team": "a"}) as stream:
        events = list(stream)
        streamed = stream.get_final_response()
    kinds = [event.type for event in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert set(kinds[4:-4]) == {"response.output_text.delta"}
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == streamed.output_text
    assert streamed.metadata == {"team": "a"} and streamed.usage.input_tokens > 0
    retrieved = client.responses.retrieve(streamed.id)  # the stream's last event, as stored
    assert retrieved.model_dump(exclude={"output"}) == streamed.model_dump(exclude={"output"})
    assert retrieved.output_text == streamed.output_text
    history = get(mock_server, "/history")["items"]
    assert [item["stream_format"] for item in history] == ["responses", "responses"]
    assert history[0]["response"] == streamed.output_text and history[0]["params"]["metadata"] == {"team": "a"}
    assert history[1]["prompt"] == "Explain tides"
    found = get(mock_server, "/search", query="glaciers")["items"]
    assert [item["id"].replace("-", "") for item in found] == [streamed.id.removeprefix("resp_")]


def test_a_three_turn_chain_sends_every_earlier_turn_to_the_upstream_from_the_store(
    relayed: UvicornProcess, fake_openai: FakeOpenAI
) -> None:
    client = sdk(relayed)
    first = client.responses.create(model="fake-large", input="one [[chunks=2]]", instructions="first rules")
    second = client.responses.create(model="fake-large", input="two [[chunks=2]]", previous_response_id=first.id)
    with client.responses.stream(
        model="fake-large", input="three [[chunks=2]]", previous_response_id=second.id, instructions="third rules"
    ) as stream:
        list(stream)
        third = stream.get_final_response()
    sent = fake_openai.requests()[-1]["body"]["messages"]
    assert sent == [  # the instructions of this turn only, as OpenAI does
        {"role": "system", "content": "third rules"},
        {"role": "user", "content": "one [[chunks=2]]"},
        {"role": "assistant", "content": first.output_text},
        {"role": "user", "content": "two [[chunks=2]]"},
        {"role": "assistant", "content": second.output_text},
        {"role": "user", "content": "three [[chunks=2]]"},
    ]
    assert third.previous_response_id == second.id
    records = get(relayed, "/history")["items"]
    assert len({item["conversation_id"] for item in records}) == 1  # one conversation in history
    assert records[0]["previous_response_id"].replace("-", "") == second.id.removeprefix("resp_")


def test_a_function_call_round_trip_reaches_the_upstream_as_chat_tool_calls(
    relayed: UvicornProcess, fake_openai: FakeOpenAI
) -> None:
    client = sdk(relayed)
    with client.responses.stream(model="fake-large", input="weather in Oslo [[chunks=6]]", tools=[WEATHER]) as stream:
        kinds = [event.type for event in stream]
        called = stream.get_final_response()
    (call,) = called.output
    assert call.type == "function_call" and call.name == "get_weather" and json.loads(call.arguments)
    assert kinds.count("response.function_call_arguments.delta") > 1  # fragments, as they came
    assert kinds[-3:] == ["response.function_call_arguments.done", "response.output_item.done", "response.completed"]
    answered = client.responses.create(
        model="fake-large",
        previous_response_id=called.id,
        tools=[WEATHER],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": '{"temp": 3}'}],
    )
    assert answered.status == "completed" and answered.output_text
    sent = fake_openai.requests()[-1]["body"]
    assert sent["tools"] == [
        {"type": "function", "function": {k: v for k, v in WEATHER.items() if k != "type"}}
    ]  # chat's shape
    assistant, tool = sent["messages"][-2:]
    assert assistant["tool_calls"] == [
        {"id": call.call_id, "type": "function", "function": {"name": "get_weather", "arguments": call.arguments}}
    ]
    assert tool == {"role": "tool", "tool_call_id": call.call_id, "content": '{"temp": 3}'}


def test_the_mock_calls_the_tool_then_answers_from_its_result(mock_server: UvicornProcess) -> None:
    client = sdk(mock_server)
    called = client.responses.create(
        model="gpt-4o-mini", input="Weather in Oslo?", tools=[WEATHER], tool_choice="required"
    )
    (call,) = called.output
    with client.responses.stream(
        model="gpt-4o-mini",
        previous_response_id=called.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
    ) as stream:
        list(stream)
        answered = stream.get_final_response()
    assert answered.output_text == "The tool answered: sunny"
    record = get(mock_server, f"/history/{called.id.removeprefix('resp_')}")
    assert record["tool_calls"][0]["id"] == call.call_id and record["finish_reason"] == "tool_calls"


def test_another_keys_response_cannot_be_read_continued_or_deleted(
    uvicorn_gateway: Callable[..., UvicornProcess], database_url: str
) -> None:
    from tests.conftest import cli

    server = uvicorn_gateway(API_KEY=KEY, MOCK_DELAY_SECONDS="0")
    alice = cli(database_url, "keys", "create", "alice").stdout.split()[0]
    bob = cli(database_url, "keys", "create", "bob").stdout.split()[0]
    time.sleep(5.2)  # every instance knows a new key within 5 s
    made = sdk(server, alice).responses.create(model="gpt-4o-mini", input="alice's secret")
    other = sdk(server, bob)
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(made.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.create(model="gpt-4o-mini", input="mine now", previous_response_id=made.id)
    assert sdk(server, KEY).responses.retrieve(made.id).id == made.id  # the operator sees every record
    sdk(server, alice).responses.delete(made.id)
    with pytest.raises(openai.NotFoundError):
        sdk(server, alice).responses.retrieve(made.id)


def test_a_background_stream_resumes_by_last_event_id_and_replays_whole(mock_server: UvicornProcess) -> None:
    headers = {"x-api-key": KEY}
    body = {"model": "gpt-4o-mini", "input": "Tell me about volcanoes", "stream": True, "background": True}
    seen: list[str] = []
    with httpx.stream("POST", mock_server.url + "/v1/responses", json=body, headers=headers, timeout=10) as answer:
        for line in answer.iter_lines():
            seen.append(line)
            if line.startswith("data:") and '"response.output_text.delta"' in line and len(seen) > 30:
                break  # the connection drops mid-answer
    last = [line[4:] for line in seen if line.startswith("id: ")][-1]
    before = "".join(json.loads(line[6:])["delta"] for line in seen if line.startswith("data:") and ".delta" in line)
    record_hex = last.split(":")[0].replace("-", "")
    resumed = httpx.get(
        f"{mock_server.url}/v1/responses/resp_{record_hex}",
        params={"stream": "true"},
        headers={**headers, "last-event-id": last},
        timeout=10,
    )
    events = [json.loads(line[6:]) for line in resumed.text.splitlines() if line.startswith("data: ")]
    after = "".join(event["delta"] for event in events if event["type"] == "response.output_text.delta")
    assert events[0]["type"] == "response.output_text.delta" and events[-1]["type"] == "response.completed"
    assert events[0]["sequence_number"] > int(last.split(":")[1])  # after those seen
    final = events[-1]["response"]
    assert before + after == final["output"][0]["content"][0]["text"]  # nothing repeated, nothing lost
    with sdk(mock_server).responses.stream(response_id=f"resp_{record_hex}") as replay:
        list(replay)
        assert replay.get_final_response().output_text == before + after


def test_a_background_response_without_a_stream_answers_at_once_and_finishes_alone(mock_server: UvicornProcess) -> None:
    client = sdk(mock_server)
    begun = client.responses.create(model="gpt-4o-mini", input="Tell me about rivers", background=True)
    assert begun.status == "in_progress" and begun.output == []
    for _ in range(100):
        done = client.responses.retrieve(begun.id)
        if done.status != "in_progress":
            break
        time.sleep(0.05)
    assert done.status == "completed" and done.output_text and done.background is True


def test_store_false_keeps_the_usage_but_no_text_and_cannot_be_retrieved(mock_server: UvicornProcess) -> None:
    client = sdk(mock_server)
    made = client.responses.create(model="gpt-4o-mini", input="private words", store=False)
    assert made.output_text and made.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(made.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-4o-mini", input="go on", previous_response_id=made.id)
    record = get(mock_server, "/history")["items"][-1]
    assert (record["prompt"], record["response"], record["params"]) == ("", "", None)
    assert record["completion_tokens"] == made.usage.output_tokens and record["redacted_at"]
    assert get(mock_server, "/search", query="private")["items"] == []


def test_an_answer_cut_by_max_output_tokens_is_incomplete(mock_server: UvicornProcess) -> None:
    client = sdk(mock_server)
    cut = client.responses.create(model="gpt-4o-mini", input="Explain tides", max_output_tokens=3)
    assert cut.status == "incomplete" and cut.incomplete_details.reason == "max_output_tokens"
    with client.responses.stream(model="gpt-4o-mini", input="Explain tides", max_output_tokens=3) as stream:
        kinds = [event.type for event in stream]
    assert kinds[-1] == "response.incomplete"


def test_an_upstream_that_fails_mid_stream_ends_it_with_response_failed(relayed: UvicornProcess) -> None:
    with sdk(relayed).responses.stream(model="fake-large", input="go [[chunks=5 at=2 drop]]") as stream:
        events = list(stream)
    assert events[-1].type == "response.failed"
    assert events[-1].response.error.code == "upstream_error"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    record = get(relayed, "/history")["items"][0]
    assert record["status"] == "error" and record["response"] == text != ""
