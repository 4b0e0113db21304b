"""The Responses API as clients send it today, through the official SDK against real gateways: an
upstream that serves the Responses API is sent the request as it came (hosted tools, include,
fields the gateway does not know) and its events come back with the gateway's ids; a chat upstream
is given what maps and told what was left out; a chain crosses from one kind of upstream to the
other; `item_reference`s, conversations, `input_items` and `cancel` work from the gateway's own
records. Both databases."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from openai import OpenAI

from tests.conftest import SDK_KEY, FakeOpenAI
from tests.servers import UvicornProcess

Start = Callable[..., UvicornProcess]
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def gateway(start: Start, tmp_path: Path, base: str, native: bool) -> UvicornProcess:
    """A gateway whose `gpt` is the fake upstream: over its Responses API (`openai/`, which OpenAI's
    own API serves), or over its chat completions only (`hosted_vllm/`)."""
    provider = "openai" if native else "hosted_vllm"
    entry = {
        "model_name": "gpt",
        "litellm_params": {"model": f"{provider}/fake-large", "api_base": base, "api_key": "os.environ/FAKE_KEY"},
        "model_info": {"id": "native" if native else "chat"},
    }
    path = tmp_path / f"{provider}.yaml"
    path.write_text(yaml.safe_dump({"model_list": [entry]}))
    return start(API_KEY=SDK_KEY, GATEWAY_CONFIG=str(path), FAKE_KEY="sk-fake")


@pytest.fixture
def native(uvicorn_gateway: Start, fake_openai: FakeOpenAI, tmp_path: Path) -> UvicornProcess:
    return gateway(uvicorn_gateway, tmp_path, fake_openai.base_url, native=True)


@pytest.fixture
def chat(uvicorn_gateway: Start, fake_openai: FakeOpenAI, tmp_path: Path) -> UvicornProcess:
    return gateway(uvicorn_gateway, tmp_path, fake_openai.base_url, native=False)


def sdk(server: UvicornProcess, key: str = SDK_KEY) -> Any:
    return OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)


def sent(fake: FakeOpenAI, path: str) -> list[dict[str, Any]]:
    return [entry for entry in fake.requests() if entry.get("path", "/v1/chat/completions") == path]


def record(server: UvicornProcess, response_id: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(
        f"{server.url}/history/{response_id.removeprefix('resp_')}", headers={"x-api-key": SDK_KEY}
    ).json()
    return found


def test_a_native_upstream_gets_the_request_as_it_came_and_its_events_come_back_with_the_gateways_ids(
    native: UvicornProcess, fake_openai: FakeOpenAI
) -> None:
    with sdk(native).responses.stream(
        model="gpt",
        input="Find the news [[web_search chunks=3]]",
        tools=[{"type": "web_search"}, WEATHER],
        tool_choice="none",
        include=["reasoning.encrypted_content"],
        extra_body={"client_metadata": {"session_id": "s-1"}, "moderation": None},
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert final.id.startswith("resp_") and len(final.id) == 37 and final.status == "completed"
    kinds = [item.type for item in final.output]
    assert kinds[0] == "web_search_call" and "message" in kinds
    message = next(item for item in final.output if item.type == "message")
    assert message.id == f"msg_{final.id.removeprefix('resp_')}"
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert deltas and all(e.item_id == message.id for e in deltas)
    upstream = sent(fake_openai, "/v1/responses")[-1]
    body = upstream["body"]
    assert body["client_metadata"] == {"session_id": "s-1"} and body["tools"][0] == {"type": "web_search"}
    assert body["include"] == ["reasoning.encrypted_content"] and "moderation" in body and not upstream["state_used"]
    saved = record(native, final.id)
    assert saved["response"] == final.output_text and saved["upstream"] == "native" and saved["left_out"] is None


def test_a_chat_upstream_is_given_what_maps_and_told_what_was_left_out(
    chat: UvicornProcess, fake_openai: FakeOpenAI
) -> None:
    namespace = {"type": "namespace", "name": "agents", "description": "helpers", "tools": [WEATHER]}
    raw = sdk(chat).responses.with_raw_response.create(
        model="gpt",
        input="Weather in Paris?",
        tools=[namespace, {"type": "web_search"}],
        text={"verbosity": "low"},
        extra_body={"client_metadata": {"session_id": "s-1"}, "prompt_cache_options": {"ttl": "1h"}},
    )
    answered = raw.parse()
    assert raw.headers["x-left-out"] == "client_metadata, prompt_cache_options, tools:web_search"
    call = next(item for item in answered.output if item.type == "function_call")
    assert call.name == "get_weather" and call.namespace == "agents"  # told as Codex needs it
    body = sent(fake_openai, "/v1/chat/completions")[-1]["body"]
    assert [tool["function"]["name"] for tool in body["tools"]] == ["get_weather"] and body["verbosity"] == "low"
    assert "client_metadata" not in body and "web_search" not in str(body["tools"])
    saved = record(chat, answered.id)
    assert saved["left_out"] == ["client_metadata", "prompt_cache_options", "tools:web_search"]
    assert saved["params"]["client_metadata"] == {"session_id": "s-1"}


def test_a_chain_crosses_from_a_native_upstream_to_a_chat_one_and_back(
    native: UvicornProcess, chat: UvicornProcess, fake_openai: FakeOpenAI
) -> None:
    first = sdk(native).responses.create(
        model="gpt",
        input="one [[reasoning chunks=2]]",
        include=["reasoning.encrypted_content"],
        reasoning={"effort": "low"},
    )
    second = sdk(chat).responses.create(model="gpt", input="two [[chunks=2]]", previous_response_id=first.id)
    replayed = sent(fake_openai, "/v1/chat/completions")[-1]["body"]["messages"]
    assert [(m["role"], m.get("content")) for m in replayed] == [
        ("user", "one [[reasoning chunks=2]]"),
        ("assistant", first.output_text),
        ("user", "two [[chunks=2]]"),
    ]
    third = sdk(native).responses.create(model="gpt", input="three", previous_response_id=second.id)
    upstream = sent(fake_openai, "/v1/responses")[-1]
    items = upstream["body"]["input"]
    assert "previous_response_id" not in upstream["body"] and not upstream["state_used"]
    assert [item["type"] for item in items] == ["message", "reasoning", "message", "message", "message", "message"]
    assert items[1]["encrypted_content"]  # the first turn's reasoning, as the upstream gave it
    assert third.previous_response_id == second.id and third.output_text


def test_item_references_are_resolved_from_the_store_for_their_owner_only(
    chat: UvicornProcess, fake_openai: FakeOpenAI
) -> None:
    first = sdk(chat).responses.create(model="gpt", input="hello [[chunks=2]]")
    message = next(item for item in first.output if item.type == "message")
    follow = [
        {"role": "user", "content": [{"type": "input_text", "text": "hello"}]},
        {"type": "item_reference", "id": message.id},
        {"role": "user", "content": [{"type": "input_text", "text": "again"}]},
    ]
    sdk(chat).responses.create(model="gpt", input=follow)
    messages = sent(fake_openai, "/v1/chat/completions")[-1]["body"]["messages"]
    assert messages[1] == {"role": "assistant", "content": [{"type": "text", "text": first.output_text}]}
    with pytest.raises(openai.NotFoundError) as unknown:
        sdk(chat).responses.create(model="gpt", input=[{"type": "item_reference", "id": "msg_" + "0" * 32}])
    assert "Item with id 'msg_" in unknown.value.message


def test_conversations_hold_their_items_and_responses_continue_them(
    chat: UvicornProcess, fake_openai: FakeOpenAI
) -> None:
    client = sdk(chat)
    made = client.conversations.create(
        metadata={"topic": "tides"}, items=[{"type": "message", "role": "user", "content": "I like the sea."}]
    )
    assert made.id.startswith("conv_") and made.metadata == {"topic": "tides"}
    answered = client.responses.create(model="gpt", input="What do I like? [[chunks=2]]", conversation=made.id)
    sent_messages = sent(fake_openai, "/v1/chat/completions")[-1]["body"]["messages"]
    assert sent_messages[0]["content"] == "I like the sea." and sent_messages[-1]["content"].startswith(
        "What do I like"
    )
    items = client.conversations.items.list(made.id, order="asc")
    assert [item.type for item in items.data] == ["message", "message", "message"]
    assert items.data[-1].id == f"msg_{answered.id.removeprefix('resp_')}"
    added = client.conversations.items.create(made.id, items=[{"type": "message", "role": "user", "content": "More"}])
    assert client.conversations.items.retrieve(added.data[0].id, conversation_id=made.id).id == added.data[0].id
    client.conversations.items.delete(added.data[0].id, conversation_id=made.id)
    assert len(client.conversations.items.list(made.id).data) == 3
    assert client.conversations.update(made.id, metadata={"topic": "waves"}).metadata == {"topic": "waves"}
    assert client.conversations.delete(made.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(made.id)


def test_a_stream_conversation_is_one_the_conversations_api_lists(chat: UvicornProcess) -> None:
    streamed = httpx.post(
        chat.url + "/stream", json={"prompt": "hi [[chunks=2]]", "model": "gpt"}, headers={"x-api-key": SDK_KEY}
    )
    conversation = "conv_" + streamed.headers["x-conversation-id"].replace("-", "")
    items = sdk(chat).conversations.items.list(conversation, order="asc")
    assert [(item.type, item.role) for item in items.data] == [("message", "user"), ("message", "assistant")]


def test_input_items_page_and_a_background_response_is_cancelled_with_its_text(
    native: UvicornProcess, chat: UvicornProcess
) -> None:
    client = sdk(chat)
    made = client.responses.create(
        model="gpt",
        input=[{"role": "user", "content": f"part {n}"} for n in range(3)] + [{"role": "user", "content": "go"}],
    )
    page = client.responses.input_items.list(made.id, limit=2, order="asc")
    assert [item.content[0].text for item in page.data] == ["part 0", "part 1"] and page.has_more
    rest = client.responses.input_items.list(made.id, after=page.data[-1].id, order="asc")
    assert [item.content[0].text for item in rest.data] == ["part 2", "go"]
    slow = client.responses.create(model="gpt", input="slow [[chunks=50 delay=0.05]]", background=True)
    assert slow.status == "in_progress"
    time.sleep(0.5)
    cancelled = client.responses.cancel(slow.id)
    assert cancelled.status == "cancelled" and cancelled.output_text.startswith("tok0")
    assert record(chat, slow.id)["status"] == "cancelled"
    with pytest.raises(openai.BadRequestError):
        client.responses.cancel(made.id)  # not a background response
