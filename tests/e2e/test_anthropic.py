"""`/v1/messages` through the official `anthropic` SDK against a real gateway in front of the fake
Anthropic upstream (bench/fake_anthropic, which speaks Anthropic's wire format and checks requests
as Anthropic does): the request goes as it came and the events come back as the upstream sent them;
thinking signatures survive a tool loop; count_tokens is the upstream's; a 529 is retried; failures
are Anthropic's shape; and every exchange is recorded. Both databases."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import pytest

from bench.fake_anthropic.rules import sign
from tests.conftest import SDK_KEY
from tests.e2e.conftest import CLAUDE
from tests.servers import UvicornProcess

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture
def server(claude_gateway: UvicornProcess) -> UvicornProcess:
    return claude_gateway


def client(server: UvicornProcess, **options: Any) -> Any:
    return anthropic.Anthropic(api_key=SDK_KEY, base_url=server.url, max_retries=0, **options)


def upstream_requests(url: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = httpx.get(url + "/_requests").json()
    return [entry for entry in seen if entry["path"] == "/v1/messages"]


def newest(server: UvicornProcess) -> dict[str, Any]:
    items: list[dict[str, Any]] = httpx.get(server.url + "/history?limit=1", headers={"x-api-key": SDK_KEY}).json()[
        "items"
    ]
    return items[0]


def events(body: bytes) -> list[tuple[str, dict[str, Any]]]:
    """An SSE body as (event, data) pairs, without the ids the upstream makes afresh each time."""
    found = []
    for block in body.decode().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            data = json.loads(lines["data"])
            data.get("message", {}).pop("id", None)
            found.append((lines["event"], data))
    return found


def test_a_stream_relays_the_upstreams_events_as_they_came_and_is_recorded(
    server: UvicornProcess, anthropic_url: str
) -> None:
    body = {
        "model": CLAUDE,
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "[[chunks=4]]"}],
    }
    headers = {"x-api-key": SDK_KEY, "anthropic-version": "2023-06-01", "anthropic-beta": "tools-2024-04-04"}
    relayed = httpx.post(server.url + "/v1/messages", json=body, headers=headers, timeout=30)
    direct = httpx.post(anthropic_url + "/v1/messages", json=body, headers={**headers, "x-api-key": "sk-ant"})
    assert relayed.status_code == 200 and relayed.headers["content-type"].startswith("text/event-stream")
    assert events(relayed.content) == events(direct.content)  # byte for byte but the message's id
    sent = upstream_requests(anthropic_url)[0]
    assert sent["body"] == body and sent["headers"]["anthropic-beta"] == "tools-2024-04-04"
    assert sent["headers"]["x-api-key"] == "sk-ant-upstream" and sent["anthropic_version"] == "2023-06-01"
    saved = newest(server)
    assert saved["stream_format"] == "messages" and saved["status"] == "complete"
    assert saved["response"] == "tok0 tok1 tok2 tok3" and saved["upstream"] == "claude-upstream"
    assert saved["finish_reason"] == "stop" and saved["completion_tokens"] and saved["prompt_tokens"]
    assert saved["messages"] == [{"role": "user", "content": "[[chunks=4]]"}]
    assert saved["params"] == {"model": CLAUDE, "max_tokens": 100, "stream": True}


def test_the_sdks_stream_helpers_and_a_whole_message_work_through_the_gateway(server: UvicornProcess) -> None:
    sdk = client(server)
    with sdk.messages.stream(
        model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": "hi [[chunks=3]]"}]
    ) as s:
        assert "".join(s.text_stream) == "tok0 tok1 tok2"
        final = s.get_final_message()
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0
    whole = sdk.messages.create(model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": "again"}])
    assert whole.type == "message" and whole.content[0].text.startswith("tok0") and whole.stop_reason == "end_turn"
    assert newest(server)["response"] == whole.content[0].text


def test_thinking_signatures_survive_a_tool_loop_and_the_record_keeps_them(
    server: UvicornProcess, anthropic_url: str
) -> None:
    sdk = client(server)
    asked = [{"role": "user", "content": "Weather in Paris? [[thinking]]"}]
    thinking = {"type": "enabled", "budget_tokens": 1024}
    with sdk.messages.stream(model=CLAUDE, max_tokens=2048, messages=asked, tools=[WEATHER], thinking=thinking) as s:
        first = s.get_final_message()
    kinds = [block.type for block in first.content]
    assert kinds[0] == "thinking" and "tool_use" in kinds and first.stop_reason == "tool_use"
    block = first.content[0]
    assert block.signature == sign(block.thinking)
    call = next(b for b in first.content if b.type == "tool_use")
    saved = newest(server)
    assert saved["thinking"] == [{"type": "thinking", "thinking": block.thinking, "signature": block.signature}]
    assert saved["reasoning"] == block.thinking and saved["tool_calls"][0]["function"]["name"] == "get_weather"
    follow = [
        *asked,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21 C"}]},
    ]
    second = sdk.messages.create(model=CLAUDE, max_tokens=2048, messages=follow, tools=[WEATHER], thinking=thinking)
    assert second.stop_reason == "end_turn"  # the fake refuses a thinking block whose signature was changed
    returned = upstream_requests(anthropic_url)[-1]["body"]["messages"][1]["content"][0]
    assert returned["signature"] == block.signature


def test_count_tokens_is_the_upstreams_own(server: UvicornProcess, anthropic_url: str) -> None:
    body = {
        "model": CLAUDE,
        "messages": [{"role": "user", "content": "count these few words please"}],
        "tools": [WEATHER],
    }
    counted = client(server).messages.count_tokens(**body)
    direct = httpx.post(
        anthropic_url + "/v1/messages/count_tokens",
        json=body,
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
    ).json()
    assert counted.input_tokens == direct["input_tokens"] > 0
    headers = {"x-api-key": SDK_KEY, "anthropic-version": "2023-06-01"}
    raw = httpx.post(server.url + "/v1/messages/count_tokens", json=body, headers=headers)
    assert "estimated" not in raw.json()
    refused = httpx.post(
        server.url + "/v1/messages/count_tokens", json=body, headers={**headers, "anthropic-version": "x"}
    )
    assert refused.status_code == 400 and refused.json()["error"]["type"] == "invalid_request_error"


def test_an_overloaded_upstream_is_retried_and_the_client_never_sees_the_529(
    server: UvicornProcess, anthropic_url: str
) -> None:
    message = client(server).messages.create(
        model=CLAUDE, max_tokens=50, messages=[{"role": "user", "content": "busy [[overloaded=1]]"}]
    )
    assert message.stop_reason == "end_turn"
    assert len(upstream_requests(anthropic_url)) == 2 and newest(server)["attempts"] == 2


def test_a_failure_mid_stream_ends_with_anthropics_error_event_and_keeps_the_text(server: UvicornProcess) -> None:
    texts: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        with client(server).messages.stream(
            model=CLAUDE, max_tokens=50, messages=[{"role": "user", "content": "[[error_event at=2]]"}]
        ) as stream:
            texts.extend(stream.text_stream)
    assert texts == ["tok0", " tok1"] and caught.value.body["type"] == "error"
    saved = newest(server)
    assert saved["status"] == "error" and saved["response"] == "tok0 tok1"


def test_refusals_are_anthropics_errors(server: UvicornProcess) -> None:
    missing = httpx.post(
        server.url + "/v1/messages",
        json={"model": CLAUDE, "messages": [{"role": "user", "content": "x"}]},  # no max_tokens
        headers={"x-api-key": SDK_KEY, "anthropic-version": "2023-06-01"},
    )
    assert missing.status_code == 400 and missing.json()["type"] == "error"
    assert missing.json()["error"]["type"] == "invalid_request_error" and "max_tokens" in missing.text
    with pytest.raises(anthropic.AuthenticationError) as refused:
        anthropic.Anthropic(api_key="wrong", base_url=server.url, max_retries=0).messages.create(
            model=CLAUDE, max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert refused.value.body["type"] == "error" and refused.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.BadRequestError) as upstream:
        client(server).messages.create(
            model=CLAUDE, max_tokens=5, messages=[{"role": "user", "content": "[[reject=400]]"}]
        )
    assert upstream.value.body["error"]["type"] == "invalid_request_error"


def test_the_key_is_taken_as_x_api_key_and_as_a_bearer_token(server: UvicornProcess) -> None:
    body = {"model": CLAUDE, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    for headers in ({"x-api-key": SDK_KEY}, {"authorization": f"Bearer {SDK_KEY}"}):
        answered = httpx.post(
            server.url + "/v1/messages?beta=true", json=body, headers={**headers, "anthropic-version": "2023-06-01"}
        )
        assert answered.status_code == 200, answered.text


def test_models_are_listed_in_anthropics_shape_to_anthropics_clients(server: UvicornProcess) -> None:
    page = client(server).models.list()
    assert {model.id for model in page.data} >= {CLAUDE, "gpt-fake", "mocked"}
    assert all(model.type == "model" for model in page.data)
    openai_shape = httpx.get(server.url + "/v1/models", headers={"x-api-key": SDK_KEY}).json()
    assert openai_shape["object"] == "list"
